//! Loads every page of a static HTML site from disk (`file://` URLs, no server) in Debian's headless
//! Chromium and reports what a person opening it would run into: console errors and warnings,
//! uncaught exceptions, resources that fail to load, and links or references that lead nowhere.
//!
//! The crawl starts at an entry page and follows every `<a href>` and `<area href>` of the DOM as
//! Chromium rendered it, so links a script adds count too. HTML pages that no link reaches are
//! loaded as well, and reported as unreachable. A `#fragment` must name an element of its target
//! page. The site must be self-contained: a link or a reference (`src` of images, scripts, frames
//! and media, `href` of `<link>` and SVG `<image>`/`<use>`, `data` of `<object>`) that leaves its
//! folder, by `http(s):`, `mailto:` or a path outside it, is a problem; `data:` URLs are fine.
//!
//! Chromium is driven over the DevTools protocol (`headless_chrome`, pointed at [`CHROMIUM`]);
//! each page's `Runtime.consoleAPICalled`, `Runtime.exceptionThrown`, `Log.entryAdded` and
//! `Network.loadingFailed` events become its [`Problem`]s.
//!
//! ```ignore
//! let report = check_site(&site, "index.html")?;
//! assert!(report.problems.is_empty(), "{report}");
//! assert!(report.text_of("events.html").is_some_and(|text| text.contains("OrderPlaced")));
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use headless_chrome::browser::tab::NavigationFailed;
use headless_chrome::protocol::cdp::Log::{LogEntryLevel, LogEntrySource};
use headless_chrome::protocol::cdp::Network;
use headless_chrome::protocol::cdp::Runtime::{ConsoleAPICalledEventTypeOption, RemoteObject, StackTrace};
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde::Deserialize;
use url::Url;

/// Debian's Chromium, which `scripts/tools.sh` installs. Nothing here downloads a browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags of TOOLING.md that `headless_chrome` does not pass by itself (it adds `--headless`,
/// `--no-sandbox` for `sandbox(false)`, `--user-data-dir` for our profile, `--no-first-run`,
/// `--disable-background-networking` and `--disable-sync`).
const FLAGS: [&str; 3] = ["--disable-gpu", "--disable-quic", "--disable-component-update"];

/// How long a page may take to fire `load`, and then to settle.
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a page is watched after `load`, for what its timers and promises do next. Whatever
/// happens later is missed, or blamed on the next page.
const SETTLE_MS: u64 = 50;

/// What the check logs itself once a page has settled: everything the page logged before it
/// has then reached the listener.
const SETTLED: &str = "herald-browser-check-settled-";

/// Reads the rendered DOM: title, visible text, element ids, links and resource references, each
/// resolved against the document's base URL (fragments decoded, to compare with ids).
const READ_PAGE: &str = r#"(() => {
  const decode = (text) => { try { return decodeURIComponent(text); } catch (_) { return text; } };
  const reference = (element, attribute) => {
    const href = element.getAttribute(attribute);
    try {
      const url = new URL(href, document.baseURI);
      return { href, url: url.href, fragment: url.hash ? decode(url.hash.slice(1)) : null };
    } catch (_) {
      return { href, url: null, fragment: null };
    }
  };
  const all = (selector, attribute) =>
    [...document.querySelectorAll(selector)].map((element) => reference(element, attribute));
  return JSON.stringify({
    title: document.title,
    text: document.body ? document.body.innerText : "",
    ids: [
      ...[...document.querySelectorAll("[id]")].map((element) => element.id),
      ...[...document.querySelectorAll("a[name]")].map((element) => element.name),
    ],
    links: all("a[href], area[href]", "href"),
    resources: [
      ...all("img[src], script[src], iframe[src], frame[src], embed[src], source[src], track[src]", "src"),
      ...all("audio[src], video[src], input[type=image][src]", "src"),
      ...all("video[poster]", "poster"),
      ...all("link[href], image[href], use[href]", "href"),
      ...all("object[data]", "data"),
    ],
  });
})()"#;

/// Why a site could not be checked. Something wrong *in* the site is a [`Problem`] instead.
#[derive(thiserror::Error)]
pub enum BrowserError {
    /// Chromium is not installed.
    #[error(
        "{} is missing: run scripts/tools.sh, which installs Debian's chromium package",
        CHROMIUM
    )]
    ChromiumMissing,
    /// The site's folder cannot be read.
    #[error("cannot read the site's folder {}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The entry page is not a file in the site's folder.
    #[error("the site's entry page {} does not exist", path.display())]
    EntryMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Chromium did not start, or a DevTools call failed.
    #[error("Chromium failed to {doing}")]
    Devtools {
        /// What was asked of it.
        doing: String,
        /// Its answer.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A page did not load, or did not settle, in time.
    #[error("{page} did not finish loading within {:?}", LOAD_TIMEOUT)]
    Timeout {
        /// The page, relative to the site's folder.
        page: String,
    },
    /// What the page-reading script returned is not what it writes.
    #[error("cannot read what Chromium rendered for {page}")]
    PageData {
        /// The page, relative to the site's folder.
        page: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

// A test that fails with `?` prints its error with `Debug`: print the message and its causes, so
// that a machine without Chromium says what to do instead of showing an enum.
impl fmt::Debug for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// What a check found: every page loaded, and every problem on them.
#[derive(Debug, Clone, Default)]
pub struct SiteReport {
    /// The pages, in the order they were loaded: the entry page first, unreachable pages last.
    pub pages: Vec<PageReport>,
    /// Everything wrong, by page, each once.
    pub problems: Vec<Problem>,
}

impl SiteReport {
    /// The page at `path`, relative to the site's folder (`index.html`, `events/order.html`).
    pub fn page(&self, path: &str) -> Option<&PageReport> {
        self.pages.iter().find(|page| page.path == path)
    }

    /// The visible text of the page at `path` (its `document.body.innerText`), if it was loaded.
    pub fn text_of(&self, path: &str) -> Option<&str> {
        self.page(path).map(|page| page.text.as_str())
    }
}

impl fmt::Display for SiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pages, {} problems", self.pages.len(), self.problems.len())?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// One page as Chromium rendered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageReport {
    /// Relative to the site's folder, with `/` between folders.
    pub path: String,
    /// `document.title`.
    pub title: String,
    /// `document.body.innerText`: what a person reads, for assertions on content.
    pub text: String,
    /// Every `<a href>` and `<area href>` as written, in document order.
    pub links: Vec<String>,
}

/// Something wrong on one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The page, relative to the site's folder.
    pub page: String,
    /// What is wrong there.
    pub what: What,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.page, self.what)
    }
}

/// What is wrong. URLs inside the site are relative to its folder (`img/logo.svg`,
/// `events.html#order-placed`); others are absolute. `at` is a script position, `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What {
    /// `console.error`, `console.warn` or a failed `console.assert` (level `error`, `warning`,
    /// `assert`), or an error or warning Chromium logged about the page (blocked content,
    /// deprecated features, …).
    Console {
        /// `error`, `warning` or `assert`.
        level: String,
        /// The message, arguments joined by spaces.
        text: String,
        /// Where it was logged from, when known.
        at: Option<String>,
    },
    /// An exception, or a promise rejection, that no script caught.
    Exception {
        /// Chromium's summary, e.g. `Uncaught Error: boom`.
        text: String,
        /// Where it was thrown, when known.
        at: Option<String>,
    },
    /// A resource the page asked for did not load.
    FailedLoad {
        /// The resource.
        url: String,
        /// Chromium's reason, e.g. `net::ERR_FILE_NOT_FOUND`.
        error: String,
    },
    /// A link or a reference names a file the site does not have.
    MissingFile {
        /// The URL (or, when it is not one, the attribute as written).
        url: String,
    },
    /// A link's `#fragment` names no element (by `id`, or `<a name>`) of the page it leads to.
    MissingFragment {
        /// The link's URL.
        url: String,
    },
    /// A link or a reference leaves the site's folder.
    LeavesSite {
        /// The URL.
        url: String,
    },
    /// No link leads to this page from the entry page.
    Unreachable,
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Console { level, text, at } => write!(f, "console {level}: {text}{}", at_suffix(at.as_deref())),
            Self::Exception { text, at } => write!(f, "{text}{}", at_suffix(at.as_deref())),
            Self::FailedLoad { url, error } => write!(f, "{url} failed to load: {error}"),
            Self::MissingFile { url } => write!(f, "{url} does not exist"),
            Self::MissingFragment { url } => write!(f, "{url}: no element of that page has this id"),
            Self::LeavesSite { url } => write!(f, "{url} leaves the site, which must be self-contained"),
            Self::Unreachable => write!(f, "no link leads here from the entry page"),
        }
    }
}

fn at_suffix(at: Option<&str>) -> String {
    at.map(|at| format!(" (at {at})")).unwrap_or_default()
}

/// Loads `entry` (relative to `root`), then every page its links reach, then every other HTML
/// page under `root`, one after the other in one tab of a headless Chromium started for this check,
/// and reports what it found.
///
/// # Errors
///
/// When Chromium is not installed (the message says to run `scripts/tools.sh`), `root` or its
/// entry page does not exist, or Chromium fails or a page does not load in time.
pub fn check_site(root: &Path, entry: &str) -> Result<SiteReport, BrowserError> {
    if !Path::new(CHROMIUM).is_file() {
        return Err(BrowserError::ChromiumMissing);
    }
    let root = root.canonicalize().map_err(|source| BrowserError::Io {
        path: root.to_owned(),
        source,
    })?;
    let entry_path = root.join(entry);
    if !entry_path.is_file() {
        return Err(BrowserError::EntryMissing { path: entry_path });
    }
    let site = Site::new(root)?;
    let entry = site.page_name(&entry_path);
    let profile = tempfile::Builder::new()
        .prefix("herald-chromium-")
        .tempdir()
        .map_err(|source| BrowserError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let browser = launch(profile.path())?;
    let report = crawl(&browser, site, entry);
    drop(browser);
    remove_profile(profile);
    report
}

fn launch(profile: &Path) -> Result<Browser, BrowserError> {
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.to_owned()))
        .args(FLAGS.iter().map(OsStr::new).collect())
        .build()
        .map_err(devtools("accept the launch options"))?;
    Browser::new(options).map_err(devtools(&format!("start ({CHROMIUM})")))
}

/// Removes Chromium's profile folder once no process uses it. headless_chrome kills only Chromium's
/// main process; its helpers (the network service among them) go on writing to the profile while
/// they shut down, so a folder removed right away came back, ~1 MB, every few runs.
fn remove_profile(profile: tempfile::TempDir) {
    let flag = format!("--user-data-dir={}", profile.path().display());
    for _ in 0..100 {
        if !in_use(&flag) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(profile);
}

/// Whether a running process has `flag` on its command line (Linux's `/proc`). A substring match:
/// Chromium rewrites its helpers' command lines into one space-separated string.
fn in_use(flag: &str) -> bool {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes.flatten().any(|process| {
        std::fs::read(process.path().join("cmdline"))
            .is_ok_and(|cmdline| cmdline.windows(flag.len()).any(|part| part == flag.as_bytes()))
    })
}

fn crawl(browser: &Browser, site: Site, entry: String) -> Result<SiteReport, BrowserError> {
    let tab = browser.new_tab().map_err(devtools("open a tab"))?;
    let inbox = Arc::new(Inbox::default());
    let listener = Arc::clone(&inbox);
    let root_url = site.url.to_string();
    tab.add_event_listener(Arc::new(move |event: &Event| listener.notice(&root_url, event)))
        .map_err(devtools("listen to the tab"))?;
    tab.enable_log().map_err(devtools("enable the Log domain"))?;
    tab.enable_runtime().map_err(devtools("enable the Runtime domain"))?;
    tab.call_method(Network::Enable {
        max_total_buffer_size: None,
        max_resource_buffer_size: None,
        max_post_data_size: None,
        report_direct_socket_traffic: None,
        enable_durable_messages: None,
    })
    .map_err(devtools("enable the Network domain"))?;

    let mut crawl = Crawl {
        site,
        tab,
        inbox,
        loaded: 0,
        queued: BTreeSet::new(),
        queue: VecDeque::new(),
        ids: HashMap::new(),
        fragments: Vec::new(),
        report: SiteReport::default(),
    };
    crawl.enqueue(entry);
    crawl.run()?;
    Ok(crawl.report)
}

fn devtools<E: Into<Box<dyn std::error::Error + Send + Sync>>>(doing: &str) -> impl FnOnce(E) -> BrowserError {
    move |source| BrowserError::Devtools {
        doing: doing.to_owned(),
        source: source.into(),
    }
}

/// The site's folder, as a path and as a `file://` URL ending in `/`.
struct Site {
    root: PathBuf,
    url: Url,
}

/// Where a URL found on a page points.
enum Target {
    /// A file (or folder) inside the site, which may not exist.
    Inside(PathBuf),
    /// Outside the site.
    Outside,
    /// Nothing to check (`data:`, `about:blank`).
    Ignored,
    /// Not a URL.
    Invalid,
}

impl Site {
    fn new(root: PathBuf) -> Result<Self, BrowserError> {
        let url = Url::from_directory_path(&root).map_err(|()| BrowserError::Io {
            path: root.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path"),
        })?;
        Ok(Self { root, url })
    }

    fn url_of(&self, page: &str) -> Result<Url, BrowserError> {
        Url::from_file_path(self.root.join(page)).map_err(|()| BrowserError::Io {
            path: self.root.join(page),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path"),
        })
    }

    fn target(&self, url: Option<&str>) -> Target {
        let Some(url) = url.and_then(|url| Url::parse(url).ok()) else {
            return Target::Invalid;
        };
        match url.scheme() {
            "data" => Target::Ignored,
            "about" if url.path() == "blank" => Target::Ignored,
            "file" => match url.to_file_path() {
                Ok(path) if path.starts_with(&self.root) => Target::Inside(path),
                _ => Target::Outside,
            },
            _ => Target::Outside,
        }
    }

    /// A path inside the site, relative to it, with `/` between folders.
    fn page_name(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        let parts: Vec<_> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect();
        parts.join("/")
    }
}

/// A URL relative to the site's folder when it is inside it.
fn shorten(root_url: &str, url: &str) -> String {
    url.strip_prefix(root_url).unwrap_or(url).to_owned()
}

fn is_html(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|extension| extension.eq_ignore_ascii_case("html") || extension.eq_ignore_ascii_case("htm"))
}

/// What the DevTools listener collects for the page being loaded; the crawl waits on it.
#[derive(Default)]
struct Inbox {
    seen: Mutex<Seen>,
    changed: Condvar,
}

#[derive(Default)]
struct Seen {
    /// The page fired `load`.
    loaded: bool,
    /// The last settle marker the page logged.
    settled: Option<String>,
    /// Request id to URL: `Network.loadingFailed` names only the request.
    requests: HashMap<String, String>,
    /// The page's problems so far.
    problems: Vec<What>,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the last page.
    fn clear(&self) {
        *self.lock() = Seen::default();
    }

    fn wait_until(&self, page: &str, done: impl Fn(&Seen) -> bool) -> Result<(), BrowserError> {
        let (seen, wait) = self
            .changed
            .wait_timeout_while(self.lock(), LOAD_TIMEOUT, |seen| !done(seen))
            .unwrap_or_else(PoisonError::into_inner);
        drop(seen);
        if wait.timed_out() {
            return Err(BrowserError::Timeout { page: page.to_owned() });
        }
        Ok(())
    }

    /// Runs on headless_chrome's event thread, once per DevTools event, in the order they came.
    fn notice(&self, root_url: &str, event: &Event) {
        let mut seen = self.lock();
        let problem = match event {
            Event::PageLoadEventFired(_) => {
                seen.loaded = true;
                None
            }
            Event::NetworkRequestWillBeSent(sent) => {
                let params = &sent.params;
                seen.requests
                    .insert(params.request_id.clone(), params.request.url.clone());
                None
            }
            Event::NetworkLoadingFailed(failed) => {
                let params = &failed.params;
                // Cancelled loads are the browser's choice (the page was left), not the site's fault.
                (params.canceled != Some(true)).then(|| What::FailedLoad {
                    url: seen.requests.get(&params.request_id).map_or_else(
                        || format!("request {}", params.request_id),
                        |url| shorten(root_url, url),
                    ),
                    error: params.error_text.clone(),
                })
            }
            Event::RuntimeConsoleAPICalled(called) => {
                let params = &called.params;
                let text = params.args.iter().map(describe).collect::<Vec<_>>().join(" ");
                let level = match params.Type {
                    ConsoleAPICalledEventTypeOption::Error => Some("error"),
                    ConsoleAPICalledEventTypeOption::Warning => Some("warning"),
                    ConsoleAPICalledEventTypeOption::Assert => Some("assert"),
                    ConsoleAPICalledEventTypeOption::Debug if text.starts_with(SETTLED) => {
                        seen.settled = Some(text.clone());
                        None
                    }
                    _ => None,
                };
                level.map(|level| What::Console {
                    level: level.to_owned(),
                    text,
                    at: params.stack_trace.as_ref().and_then(|trace| position(root_url, trace)),
                })
            }
            Event::RuntimeExceptionThrown(thrown) => {
                let details = &thrown.params.exception_details;
                let thrown_value = details.exception.as_ref().map(|exception| {
                    exception
                        .description
                        .as_deref()
                        .and_then(|description| description.lines().next())
                        .map_or_else(|| describe(exception), str::to_owned)
                });
                Some(What::Exception {
                    text: match thrown_value {
                        Some(value) => format!("{} {value}", details.text),
                        None => details.text.clone(),
                    },
                    at: details
                        .stack_trace
                        .as_ref()
                        .and_then(|trace| position(root_url, trace))
                        .or_else(|| {
                            let url = details.url.as_deref()?;
                            Some(format!("{}:{}", shorten(root_url, url), details.line_number + 1))
                        }),
                })
            }
            Event::LogEntryAdded(added) => {
                let entry = &added.params.entry;
                let level = match entry.level {
                    LogEntryLevel::Error => "error",
                    LogEntryLevel::Warning => "warning",
                    LogEntryLevel::Verbose | LogEntryLevel::Info => return,
                };
                // Failed loads come from Network.loadingFailed, with the request's URL.
                (entry.source != LogEntrySource::Network).then(|| What::Console {
                    level: level.to_owned(),
                    text: entry.text.clone(),
                    at: entry.url.as_deref().map(|url| shorten(root_url, url)),
                })
            }
            _ => return,
        };
        seen.problems.extend(problem);
        self.changed.notify_all();
    }
}

/// A console argument as the console shows it, roughly.
fn describe(object: &RemoteObject) -> String {
    match (&object.value, &object.unserializable_value, &object.description) {
        (Some(serde_json::Value::String(text)), _, _) => text.clone(),
        (Some(value), _, _) => value.to_string(),
        (None, Some(value), _) => value.clone(),
        (None, None, Some(description)) => description.clone(),
        (None, None, None) => format!("{:?}", object.Type).to_lowercase(),
    }
}

/// The innermost frame of a stack trace, as `file:line`.
fn position(root_url: &str, trace: &StackTrace) -> Option<String> {
    let frame = trace.call_frames.first()?;
    Some(format!("{}:{}", shorten(root_url, &frame.url), frame.line_number + 1))
}

/// The rendered DOM of a page, as [`READ_PAGE`] returns it.
#[derive(Debug, Deserialize)]
struct PageData {
    title: String,
    text: String,
    ids: Vec<String>,
    links: Vec<Reference>,
    resources: Vec<Reference>,
}

/// A link or a resource reference.
#[derive(Debug, Deserialize)]
struct Reference {
    /// The attribute as written.
    href: String,
    /// Resolved against the document's base URL; `None` when it is not a URL.
    url: Option<String>,
    /// The `#fragment`, decoded; `None` when there is none (or it is empty).
    fragment: Option<String>,
}

/// A link to `#fragment` of another page, checked once every page is loaded.
struct FragmentLink {
    page: String,
    target: String,
    fragment: String,
    url: String,
}

struct Crawl {
    site: Site,
    tab: Arc<Tab>,
    inbox: Arc<Inbox>,
    /// Pages loaded so far; numbers the settle markers.
    loaded: u64,
    queued: BTreeSet<String>,
    queue: VecDeque<String>,
    /// The element ids of each page loaded.
    ids: HashMap<String, BTreeSet<String>>,
    fragments: Vec<FragmentLink>,
    report: SiteReport,
}

impl Crawl {
    fn enqueue(&mut self, page: String) {
        if self.queued.insert(page.clone()) {
            self.queue.push_back(page);
        }
    }

    fn problem(&mut self, page: &str, what: What) {
        let problem = Problem {
            page: page.to_owned(),
            what,
        };
        if !self.report.problems.contains(&problem) {
            self.report.problems.push(problem);
        }
    }

    fn run(&mut self) -> Result<(), BrowserError> {
        loop {
            while let Some(page) = self.queue.pop_front() {
                self.visit(&page)?;
            }
            let mut unreached = Vec::new();
            self.html_files(&self.site.root, &mut unreached)?;
            unreached.retain(|page| !self.queued.contains(page));
            if unreached.is_empty() {
                break;
            }
            for page in unreached {
                self.problem(&page, What::Unreachable);
                self.enqueue(page);
            }
        }
        self.check_fragments();
        Ok(())
    }

    /// Every HTML file under `folder`, relative to the site's folder, sorted.
    fn html_files(&self, folder: &Path, found: &mut Vec<String>) -> Result<(), BrowserError> {
        let io = |source| BrowserError::Io {
            path: folder.to_owned(),
            source,
        };
        let mut entries = std::fs::read_dir(folder)
            .map_err(io)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                self.html_files(&path, found)?;
            } else if is_html(&path) {
                found.push(self.site.page_name(&path));
            }
        }
        Ok(())
    }

    fn visit(&mut self, page: &str) -> Result<(), BrowserError> {
        let url = self.site.url_of(page)?;
        self.inbox.clear();
        if let Err(error) = self.tab.navigate_to(url.as_str()) {
            // Chromium refusing the page is the site's problem; anything else is the browser's.
            if error.downcast_ref::<NavigationFailed>().is_none() {
                return Err(devtools(&format!("open {page}"))(error));
            }
            let what = What::FailedLoad {
                url: page.to_owned(),
                error: error.to_string(),
            };
            self.problem(page, what);
            return Ok(());
        }
        self.inbox.wait_until(page, |seen| seen.loaded)?;

        // One call, as each DevTools call costs headless_chrome ~100 ms: wait for the page's timers,
        // log the marker, read the DOM.
        self.loaded += 1;
        let marker = format!("{SETTLED}{}", self.loaded);
        let settle_and_read = format!(
            "new Promise((done) => setTimeout(() => {{ console.debug('{marker}'); done({READ_PAGE}); }}, {SETTLE_MS}))"
        );
        let rendered = self
            .tab
            .evaluate(&settle_and_read, true)
            .map_err(devtools(&format!("read {page}")))?;
        self.inbox
            .wait_until(page, |seen| seen.settled.as_deref() == Some(marker.as_str()))?;
        let json = rendered
            .value
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let data: PageData = serde_json::from_str(json).map_err(|source| BrowserError::PageData {
            page: page.to_owned(),
            source,
        })?;

        let noticed = std::mem::take(&mut self.inbox.lock().problems);
        for what in noticed {
            self.problem(page, what);
        }
        self.check_links(page, &data.links);
        self.check_resources(page, &data.resources);
        self.ids.insert(page.to_owned(), data.ids.into_iter().collect());
        self.report.pages.push(PageReport {
            path: page.to_owned(),
            title: data.title,
            text: data.text,
            links: data.links.into_iter().map(|link| link.href).collect(),
        });
        Ok(())
    }

    fn check_links(&mut self, page: &str, links: &[Reference]) {
        for link in links {
            let url = self.shown(link);
            let path = match self.site.target(link.url.as_deref()) {
                Target::Ignored => continue,
                Target::Outside => {
                    self.problem(page, What::LeavesSite { url });
                    continue;
                }
                Target::Invalid => {
                    self.problem(page, What::MissingFile { url });
                    continue;
                }
                // A folder stands for its index page, as on a web server.
                Target::Inside(path) if path.is_dir() => path.join("index.html"),
                Target::Inside(path) => path,
            };
            if !path.is_file() {
                self.problem(page, What::MissingFile { url });
            } else if is_html(&path) {
                let target = self.site.page_name(&path);
                if let Some(fragment) = &link.fragment {
                    self.fragments.push(FragmentLink {
                        page: page.to_owned(),
                        target: target.clone(),
                        fragment: fragment.clone(),
                        url,
                    });
                }
                self.enqueue(target);
            }
        }
    }

    fn check_resources(&mut self, page: &str, resources: &[Reference]) {
        for resource in resources {
            let url = self.shown(resource);
            match self.site.target(resource.url.as_deref()) {
                Target::Ignored => {}
                Target::Outside => self.problem(page, What::LeavesSite { url }),
                Target::Inside(path) if path.exists() => {}
                // Chromium already said so, if it tried to load it (lazy images, for one, it may not).
                Target::Inside(_) | Target::Invalid => {
                    let already_failed = self.report.problems.iter().any(|problem| {
                        problem.page == page
                            && matches!(&problem.what, What::FailedLoad { url: failed, .. } if *failed == url)
                    });
                    if !already_failed {
                        self.problem(page, What::MissingFile { url });
                    }
                }
            }
        }
    }

    fn check_fragments(&mut self) {
        for link in std::mem::take(&mut self.fragments) {
            let Some(ids) = self.ids.get(&link.target) else {
                continue;
            };
            // `#top` scrolls to the top of any page (HTML's "indicated part of the document").
            if !ids.contains(&link.fragment) && !link.fragment.eq_ignore_ascii_case("top") {
                self.problem(&link.page, What::MissingFragment { url: link.url });
            }
        }
    }

    /// A reference's URL as a problem shows it.
    fn shown(&self, reference: &Reference) -> String {
        match &reference.url {
            Some(url) => shorten(self.site.url.as_str(), url),
            None => reference.href.clone(),
        }
    }
}
