//! `herald new <name> --consumes <source/DetailType/vN>… [--emits …]`: a new consumer crate in
//! the workspace's functions folder, with its declaration, and the template regenerated, so that
//! `herald dev`, `herald catalog check` and the tests take it at once with no file edited by hand.
//!
//! The crate has the shape of every Herald function: `main.rs` hands the handler to
//! `herald::run`; `handler.rs` holds the event set (one variant per consumed version, typed by
//! the workspace's events crate), the `Deps` and their `herald::Function` declaration, and one
//! match arm per event; `error.rs` the function's error enum; `tests/<name>.rs` runs every
//! catalogued sample it consumes through it on both backends.
//!
//! The workspace says where functions live and which crate types the events, once, in its root
//! `Cargo.toml`:
//!
//! ```toml
//! [workspace.metadata.herald]
//! functions = "functions"       # the folder of the function crates
//! events-crate = "shop-events"  # exports each catalogued version as `<DetailType>V<N>`
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use herald_infra::{EventRef, Generation};
use serde::Deserialize;

/// Why `herald new` did nothing; every variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a lowercase kebab-case crate name.
    #[error("`{0}` is not a function name: use lowercase words joined by dashes, e.g. `loyalty-points`")]
    Name(String),
    /// The function exists already.
    #[error("{0} exists already: choose another name or edit that crate")]
    Exists(PathBuf),
    /// An event reference is malformed, or not in the catalog.
    #[error("--{flag} {text}: {message}")]
    Event {
        /// `consumes` or `emits`.
        flag: &'static str,
        /// As given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// The workspace does not say where functions live or which crate types the events.
    #[error("{manifest}: [workspace.metadata.herald] needs `functions` and `events-crate` ({message})")]
    Workspace {
        /// The workspace's root manifest.
        manifest: PathBuf,
        /// What is missing.
        message: String,
    },
    /// The workspace could not be read (`cargo metadata` failed).
    #[error(transparent)]
    Metadata(herald_infra::InfraError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The template could not be regenerated.
    #[error("the crate was written, but the template was not regenerated: {0}")]
    Template(#[from] herald_infra::InfraError),
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewFunction {
    /// Package, folder and binary name, e.g. `loyalty`.
    pub name: String,
    /// The event versions it consumes (at least one).
    pub consumes: Vec<String>,
    /// The event versions it may publish.
    pub emits: Vec<String>,
    /// One line saying what it does; default: what it reacts to.
    pub description: Option<String>,
}

/// Where the workspace is.
#[derive(Debug, Clone)]
pub struct Places {
    /// The Cargo workspace's root.
    pub workspace: PathBuf,
    /// The event catalog.
    pub catalog: PathBuf,
    /// The SAM template to regenerate.
    pub template: PathBuf,
}

/// What the workspace's root manifest says about its functions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WorkspaceHerald {
    functions: PathBuf,
    events_crate: String,
}

/// Writes the crate and regenerates the template. Returns the files written, template last.
///
/// # Errors
/// [`ScaffoldError`]: a bad name or event, an existing crate, a workspace that does not say
/// where functions live; nothing is written then.
pub fn scaffold(new: &NewFunction, places: &Places) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !is_kebab(&new.name) {
        return Err(ScaffoldError::Name(new.name.clone()));
    }
    let consumes = catalogued("consumes", &new.consumes, &places.catalog)?;
    if consumes.is_empty() {
        return Err(ScaffoldError::Event {
            flag: "consumes",
            text: String::new(),
            message: "a consumer consumes at least one event".to_owned(),
        });
    }
    let emits = catalogued("emits", &new.emits, &places.catalog)?;
    let workspace = workspace_herald(&places.workspace)?;
    let dir = workspace.root.join(&workspace.herald.functions).join(&new.name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let crate_files = Crate {
        name: &new.name,
        description: new
            .description
            .clone()
            .unwrap_or_else(|| default_description(&consumes)),
        consumes: &consumes,
        emits: &emits,
        events_crate: &workspace.herald.events_crate,
    }
    .files();
    let mut written = Vec::new();
    for (relative, text) in crate_files {
        let path = dir.join(relative);
        write(&path, &text)?;
        written.push(path);
    }
    let generation = Generation::of(&places.template, &places.workspace)?;
    generation.write()?;
    written.push(places.template.clone());
    Ok(written)
}

struct Workspace {
    root: PathBuf,
    herald: WorkspaceHerald,
}

fn workspace_herald(workspace: &Path) -> Result<Workspace, ScaffoldError> {
    let read = herald_infra::workspace::read(workspace).map_err(ScaffoldError::Metadata)?;
    let manifest = read.root.join("Cargo.toml");
    let herald = read.herald.ok_or_else(|| ScaffoldError::Workspace {
        manifest: manifest.clone(),
        message: "no such table".to_owned(),
    })?;
    let herald = WorkspaceHerald::deserialize(herald).map_err(|e| ScaffoldError::Workspace {
        manifest,
        message: e.to_string(),
    })?;
    Ok(Workspace {
        root: read.root,
        herald,
    })
}

/// Parses each reference and checks the catalog has its schema.
fn catalogued(flag: &'static str, texts: &[String], catalog: &Path) -> Result<Vec<EventRef>, ScaffoldError> {
    let mut refs: Vec<EventRef> = Vec::new();
    for text in texts {
        let wrong = |message: String| ScaffoldError::Event {
            flag,
            text: text.clone(),
            message,
        };
        let event = EventRef::parse(text).ok_or_else(|| wrong("not source/DetailType/vN".to_owned()))?;
        let schema = catalog
            .join(&event.source)
            .join(&event.detail_type)
            .join(format!("v{}.schema.json", event.version));
        if !schema.is_file() {
            return Err(wrong(format!(
                "not in the catalog: no {}; add the event there first",
                schema.display()
            )));
        }
        if !refs.contains(&event) {
            refs.push(event);
        }
    }
    Ok(refs)
}

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn default_description(consumes: &[EventRef]) -> String {
    let mut types: Vec<&str> = consumes.iter().map(|e| e.detail_type.as_str()).collect();
    types.dedup();
    format!("Reacts to {}.", types.join(", "))
}

fn write(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    let failed = |source| ScaffoldError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    std::fs::write(path, text).map_err(failed)
}

/// The new crate's files, rendered.
struct Crate<'a> {
    name: &'a str,
    description: String,
    consumes: &'a [EventRef],
    emits: &'a [EventRef],
    events_crate: &'a str,
}

/// `loyalty-points` → `LoyaltyPoints`.
fn pascal(name: &str) -> String {
    herald_infra::render::pascal(name)
}

/// The Rust type of a catalogued version in the events crate: `OrderPlacedV1`.
fn type_name(event: &EventRef) -> String {
    format!("{}V{}", event.detail_type, event.version)
}

fn quoted_list(events: &[EventRef]) -> String {
    let items: Vec<String> = events.iter().map(|e| format!("    \"{e}\",\n")).collect();
    if items.is_empty() {
        "[]".to_owned()
    } else {
        format!("[\n{}]", items.concat())
    }
}

impl Crate<'_> {
    fn files(&self) -> Vec<(String, String)> {
        vec![
            ("Cargo.toml".to_owned(), self.manifest()),
            ("src/main.rs".to_owned(), self.main()),
            ("src/lib.rs".to_owned(), self.lib()),
            ("src/error.rs".to_owned(), self.error()),
            ("src/handler.rs".to_owned(), self.handler()),
            (format!("tests/{}.rs", self.name), self.test()),
        ]
    }

    fn crate_ident(&self) -> String {
        self.name.replace('-', "_")
    }

    fn events_ident(&self) -> String {
        self.events_crate.replace('-', "_")
    }

    fn manifest(&self) -> String {
        let description = self.description.replace('\\', "\\\\").replace('"', "\\\"");
        format!(
            r#"[package]
name = "{name}"
description = "{description}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
herald.workspace = true
{events_crate}.workspace = true
serde.workspace = true
thiserror.workspace = true
tokio.workspace = true
tracing.workspace = true

[dev-dependencies]
herald-tests.workspace = true

# The function's one declaration: its rule, role, retries, dead-letter queue and alarms in
# infra/template.yaml are generated from it (`cargo herald infra generate`). Add its own tables
# as [[package.metadata.herald.tables]] (see shared/herald-infra/README.md).
[package.metadata.herald]
description = "{description}"
consumes = {consumes}
emits = {emits}
rule-retries = {{ attempts = 8, max-event-age-seconds = 3600 }}
invoke-retries = {{ attempts = 2, max-event-age-seconds = 3600 }}

[lints]
workspace = true
"#,
            name = self.name,
            events_crate = self.events_crate,
            consumes = quoted_list(self.consumes),
            emits = quoted_list(self.emits),
        )
    }

    fn main(&self) -> String {
        format!(
            r#"//! {title} on Lambda: the framework serves [`handler::handle`]({krate}::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {{
    herald::run({krate}::handler::handle).await
}}
"#,
            title = pascal(self.name),
            krate = self.crate_ident(),
        )
    }

    fn lib(&self) -> String {
        let consumes: Vec<String> = self.consumes.iter().map(ToString::to_string).collect();
        let emits = if self.emits.is_empty() {
            "nothing".to_owned()
        } else {
            self.emits
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            r"//! {description}
//!
//! - [`handler`]: what it does with each event, and the [`Deps`](handler::Deps) it uses, built
//!   once at cold start.
//! - [`error`]: every failure, retryable or not.
//!
//! Consumes `{consumes}`. Emits {emits}.

pub mod error;
pub mod handler;
",
            description = self.description,
            consumes = consumes.join("`, `"),
        )
    }

    fn error(&self) -> String {
        format!(
            r"//! Everything that can go wrong in {name}, each variant retryable or not.

use herald::Classify;

/// {title}'s errors. Add one variant per failure, keeping its source error, and class it below:
/// retryable (a dependency was down: the event is delivered again) or not (straight to the
/// dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum {title}Error {{}}

impl Classify for {title}Error {{
    fn is_retryable(&self) -> bool {{
        match *self {{}}
    }}

    fn error_type(&self) -> &'static str {{
        match *self {{}}
    }}
}}
",
            name = self.name,
            title = pascal(self.name),
        )
    }

    fn handler(&self) -> String {
        let title = pascal(self.name);
        let mut variants = String::new();
        let mut arms = String::new();
        for event in self.consumes {
            let ty = type_name(event);
            let _ = writeln!(
                variants,
                "        /// {} v{} from `{}`.\n        {ty}({ty}) from ({ty},),",
                event.detail_type, event.version, event.source
            );
            let _ = writeln!(
                arms,
                "        {title}Event::{ty}(event) => {{\n            tracing::info!(event_id = %event.metadata().event_id, \"{} v{} handled\");\n            \"{} v{}\"\n        }}",
                event.detail_type, event.version, event.detail_type, event.version
            );
        }
        let types: Vec<String> = self.consumes.iter().map(type_name).collect();
        let imported = match types.as_slice() {
            [one] => one.clone(),
            many => format!("{{{}}}", many.join(", ")),
        };
        let publishes = !self.emits.is_empty();
        let (deps_fields, deps_init, herald_use) = if publishes {
            (
                "{\n    /// The bus it publishes to (`EVENT_BUS_NAME`).\n    pub publisher: Publisher,\n}",
                "Ok(Self {\n            publisher: env.publisher()?,\n        })",
                "use herald::{ConfigError, Env, Function, Publisher};",
            )
        } else {
            ("{}", "Ok(Self {})", "use herald::{ConfigError, Env, Function};")
        };
        let env_param = if publishes { "env" } else { "_env" };
        format!(
            r#"//! {title}'s decisions: one arm per event version it consumes.

{herald_use}
use serde::{{Deserialize, Serialize}};
use {events}::{imported};

use crate::error::{title}Error;

herald::event_set! {{
    /// What {name} consumes.
    #[derive(Debug)]
    pub enum {title}Event {{
{variants}    }}
}}

/// What the handler uses, built once at cold start by [`Function::from_env`].
#[derive(Debug, Clone)]
pub struct Deps {deps_fields}

impl Function for Deps {{
    const NAME: &'static str = "{name}";
    type Event = {title}Event;
    type Reaction = Reaction;
    type Error = {title}Error;

    fn from_env({env_param}: &Env) -> Result<Self, ConfigError> {{
        {deps_init}
    }}
}}

/// What {name} did with an event: stored by the guard and answered to duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {{
    /// The detail-type and version handled.
    pub handled: String,
}}

/// Handles one decoded event.
///
/// # Errors
/// [`{title}Error`]: none yet.
pub async fn handle(deps: &Deps, event: {title}Event) -> Result<Reaction, {title}Error> {{
    let _ = deps;
    let handled = match event {{
{arms}    }};
    Ok(Reaction {{
        handled: handled.to_owned(),
    }})
}}
"#,
            name = self.name,
            events = self.events_ident(),
        )
    }

    fn test(&self) -> String {
        let consumes: Vec<String> = self.consumes.iter().map(|e| format!("\"{e}\"")).collect();
        format!(
            r#"//! {title}'s behaviour, each test run on both backends (memory, as under `herald dev`,
//! and DynamoDB on moto), built as `main.rs` builds it.

use herald_tests::TestResult;
use herald_tests::fixtures::samples_of;
use herald_tests::world::{{FunctionWorld, on_every_backend}};
use {krate}::handler::{{self, Deps}};

/// Every event version {name} consumes, as its declaration lists them.
const CONSUMES: &[&str] = &[{consumes}];

#[tokio::test]
async fn every_catalogued_sample_it_consumes_is_handled() -> TestResult {{
    on_every_backend(async |stores| {{
        // Given {name} over fresh stores
        let world = FunctionWorld::<Deps>::new(stores, handler::handle, &[]).await?;

        // When every catalogued sample of what it consumes is delivered
        for sample in samples_of(CONSUMES)? {{
            let answer = world.deliver(sample).await?;

            // Then each runs the handler
            assert!(answer.outcome.ran(), "{{:?}}", answer.outcome);
        }}
        Ok(())
    }})
    .await
}}
"#,
            title = pascal(self.name),
            name = self.name,
            krate = self.crate_ident(),
            consumes = consumes.join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lowercase_kebab_case_names_are_function_names() {
        for good in ["loyalty", "loyalty-points", "v2-audit"] {
            assert!(is_kebab(good), "{good}");
        }
        for bad in ["", "Loyalty", "loyalty_points", "-x", "x-", "a--b", "2fa", "x y"] {
            assert!(!is_kebab(bad), "{bad}");
        }
    }

    #[test]
    fn an_event_outside_the_catalog_or_malformed_is_refused_naming_the_flag() {
        // Given the shop's catalog
        let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");

        // When a catalogued event, an unknown version and a malformed reference are checked
        let good = catalogued("consumes", &["shop.orders/OrderPlaced/v1".to_owned()], &catalog);
        let unknown = catalogued("consumes", &["shop.orders/OrderPlaced/v7".to_owned()], &catalog);
        let malformed = catalogued("emits", &["OrderPlaced".to_owned()], &catalog);

        // Then only the first is taken, and each refusal says which flag and what is wrong
        assert_eq!(good.map(|refs| refs.len()).ok(), Some(1));
        let unknown = unknown.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            unknown.starts_with("--consumes shop.orders/OrderPlaced/v7: not in the catalog"),
            "{unknown}"
        );
        let malformed = malformed.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(malformed, "--emits OrderPlaced: not source/DetailType/vN");
    }

    #[test]
    fn the_handler_has_one_typed_variant_and_arm_per_consumed_version() -> Result<(), String> {
        // Given a function consuming two versions of one event, emitting one
        let consumes = [
            EventRef::parse("shop.orders/OrderPlaced/v1").ok_or("v1")?,
            EventRef::parse("shop.orders/OrderPlaced/v2").ok_or("v2")?,
        ];
        let emits = [EventRef::parse("shop.loyalty/PointsEarned/v1").ok_or("emits")?];
        let files = Crate {
            name: "loyalty-points",
            description: default_description(&consumes),
            consumes: &consumes,
            emits: &emits,
            events_crate: "shop-events",
        };

        // When its handler is rendered
        let handler = files.handler();

        // Then each version is a variant typed by the events crate, with its own arm, and the
        // deps carry the publisher
        assert!(
            handler.contains("use shop_events::{OrderPlacedV1, OrderPlacedV2};"),
            "{handler}"
        );
        assert!(
            handler.contains("OrderPlacedV2(OrderPlacedV2) from (OrderPlacedV2,),"),
            "{handler}"
        );
        assert!(
            handler.contains("LoyaltyPointsEvent::OrderPlacedV1(event) =>"),
            "{handler}"
        );
        assert!(handler.contains("publisher: env.publisher()?"), "{handler}");
        assert!(
            files
                .manifest()
                .contains("emits = [\n    \"shop.loyalty/PointsEarned/v1\",\n]")
        );
        assert_eq!(files.description, "Reacts to OrderPlaced.");
        Ok(())
    }
}
