//! The browser checker of `support::browser`, proven on small fixture sites written into temporary
//! folders: a clean site passes and its rendered text can be read; broken links, missing
//! fragments, links out of the site, unreachable pages, missing resources, console errors and
//! uncaught exceptions are each reported with their page and URL.

mod support;

use std::path::Path;

use support::browser::{BrowserError, Problem, What, check_site};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A site of `(path, content)` files in a fresh temporary folder.
fn site(files: &[(&str, &str)]) -> TestResult<tempfile::TempDir> {
    let folder = tempfile::Builder::new().prefix("herald-site-").tempdir()?;
    for (path, content) in files {
        let path = folder.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(folder)
}

const LOGO: &str =
    r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#;

#[test]
fn a_clean_two_page_site_has_no_problems_and_each_pages_rendered_text_can_be_read() -> TestResult {
    // Given a catalog whose index counts its events with a script, and an events page with anchors
    let site = site(&[
        (
            "index.html",
            r##"<!doctype html><html><head><title>Catalog</title><link rel="stylesheet" href="css/site.css"></head>
<body><img src="img/logo.svg" alt="Herald"><h1 id="top-heading">Events</h1>
<p id="count"></p><a href="events.html#order-placed">Order placed</a> <a href="#top-heading">Up</a>
<script src="js/count.js"></script><script>console.log("rendered"); console.info("fine");</script></body></html>"##,
        ),
        ("css/site.css", "body { font-family: sans-serif; }"),
        ("img/logo.svg", LOGO),
        (
            "js/count.js",
            r#"document.getElementById("count").textContent = "2 events";"#,
        ),
        (
            "events.html",
            r#"<!doctype html><html><head><title>All events</title></head><body>
<h2 id="order-placed">OrderPlaced</h2><h2 id="order-shipped">OrderShipped</h2>
<a href="index.html">Back</a> <a href="index.html#top">Top</a></body></html>"#,
        ),
    ])?;

    // When every page is loaded in Chromium
    let report = check_site(site.path(), "index.html")?;

    // Then nothing is wrong, both pages were loaded, and their text is what Chromium rendered
    assert!(report.problems.is_empty(), "{report}");
    let pages: Vec<&str> = report.pages.iter().map(|page| page.path.as_str()).collect();
    assert_eq!(pages, ["index.html", "events.html"]);
    let index = report.page("index.html").ok_or("index.html was not loaded")?;
    assert_eq!(index.title, "Catalog");
    assert_eq!(index.links, ["events.html#order-placed", "#top-heading"]);
    assert!(
        report
            .text_of("index.html")
            .is_some_and(|text| text.contains("2 events")),
        "{index:?}"
    );
    let events = report.text_of("events.html").ok_or("events.html was not loaded")?;
    assert!(
        events.contains("OrderPlaced") && events.contains("OrderShipped"),
        "{events}"
    );
    Ok(())
}

#[test]
fn broken_links_missing_fragments_links_out_of_the_site_and_unreachable_pages_are_reported() -> TestResult {
    // Given an index with a link to a missing page (one more added by a script), a link to a
    // missing anchor, a link to the web, and a page that nothing links to
    let site = site(&[
        (
            "index.html",
            r##"<!doctype html><html><head><title>Index</title></head><body>
<a href="missing.html">Missing</a> <a href="events.html#nowhere">Nowhere</a> <a href="events.html#shipped">Shipped</a>
<a href="https://example.com/schemas">Web</a> <a href="#here" id="here">Here</a>
<script>const a = document.createElement("a"); a.href = "gone/page.html"; document.body.append(a);</script>
</body></html>"##,
        ),
        (
            "events.html",
            r#"<!doctype html><html><head><title>Events</title></head><body><h2 id="shipped">Shipped</h2>
<a href="index.html">Back</a></body></html>"#,
        ),
        (
            "orphan.html",
            "<!doctype html><title>Orphan</title><p>Nobody links here</p>",
        ),
    ])?;

    // When the site is checked
    let report = check_site(site.path(), "index.html")?;

    // Then each problem is reported once, on the page that has it, with the offending URL
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "index.html: missing.html does not exist",
            "index.html: https://example.com/schemas leaves the site, which must be self-contained",
            "index.html: gone/page.html does not exist",
            "orphan.html: no link leads here from the entry page",
            "index.html: events.html#nowhere: no element of that page has this id",
        ],
    );
    // And the unreachable page was still loaded
    assert!(
        report
            .text_of("orphan.html")
            .is_some_and(|text| text.contains("Nobody links here"))
    );
    Ok(())
}

#[test]
fn missing_resources_console_errors_and_uncaught_exceptions_are_reported_with_page_and_url() -> TestResult {
    // Given a shop page with a missing stylesheet and image, a lazy image far below the fold that
    // Chromium never fetches, a console.error and an exception nothing catches
    let site = site(&[
        (
            "index.html",
            r#"<!doctype html><html><head><title>Index</title></head><body><a href="shop.html">Shop</a></body></html>"#,
        ),
        (
            "shop.html",
            r#"<!doctype html><html><head><title>Shop</title><link rel="stylesheet" href="css/missing.css"></head>
<body><img src="img/missing.png" alt="">
<script>console.error("no price for", "SKU-1");</script>
<script>window.cart.total();</script>
<img src="img/lazy.png" loading="lazy" style="margin-top: 20000px" alt="">
</body></html>"#,
        ),
    ])?;

    // When the site is checked
    let report = check_site(site.path(), "index.html")?;

    // Then the index is clean, and each problem of the shop page names it and the URL or the message
    let on_shop = |what: What| Problem {
        page: "shop.html".to_owned(),
        what,
    };
    let not_found = |url: &str| What::FailedLoad {
        url: url.to_owned(),
        error: "net::ERR_FILE_NOT_FOUND".to_owned(),
    };
    let mut expected = vec![
        on_shop(not_found("css/missing.css")),
        on_shop(not_found("img/missing.png")),
        on_shop(What::Console {
            level: "error".to_owned(),
            text: "no price for SKU-1".to_owned(),
            at: Some("shop.html:3".to_owned()),
        }),
        on_shop(What::Exception {
            text: "Uncaught TypeError: Cannot read properties of undefined (reading 'total')".to_owned(),
            at: Some("shop.html:4".to_owned()),
        }),
        on_shop(What::MissingFile {
            url: "img/lazy.png".to_owned(),
        }),
    ];
    let mut problems = report.problems.clone();
    // Load failures and console messages arrive in the order Chromium gets to them.
    problems.sort_by_key(ToString::to_string);
    expected.sort_by_key(ToString::to_string);
    assert_eq!(problems, expected, "{report}");
    Ok(())
}

#[test]
fn a_missing_entry_page_is_an_error_not_an_empty_report() -> TestResult {
    // Given a site without the entry page
    let site = site(&[("about.html", "<!doctype html><title>About</title>")])?;

    // When it is checked
    let result = check_site(site.path(), "index.html");

    // Then the check fails, naming the page
    match result {
        Err(BrowserError::EntryMissing { path }) => {
            assert_eq!(path.file_name(), Some(Path::new("index.html").as_os_str()))
        }
        other => return Err(format!("expected EntryMissing, got {other:?}").into()),
    }
    Ok(())
}
