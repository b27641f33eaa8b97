//! `herald catalog build`'s static site: plain HTML and SVG that work from `file://`, with no
//! server, no script and nothing fetched from elsewhere.
//!
//! ```text
//! index.html                           events by source, functions, the flow diagram
//! flow.svg                             the flow diagram on its own (see [`diagram`])
//! style.css
//! events/<source>/<DetailType>.html    one page per event: versions (#v1, #v2…), fields, samples,
//!                                      changes between versions, producers, consumers
//! functions/<binary>.html              one page per function: rules, what it receives and publishes
//! .herald-catalog                      what the build wrote, so the next build removes only that
//! ```
//!
//! Every page is a [`maud`] template, so every name, description and sample spliced into it is
//! escaped; every link is relative, percent-encoded, and made by the same functions that name the
//! files (`event_file`, `function_file`).

mod diagram;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use herald_infra::StackRule;

use super::evolution::{self, Change};
use super::graph::{CatalogFunction, Flow, Links, Producer};
use super::model::{Catalog, CatalogEvent, Declarations, EventVersion};
use super::schema::{Schema, SchemaError};

/// The file that marks a folder as written by `herald catalog build`, listing what it wrote.
pub const MARKER: &str = ".herald-catalog";

const STYLE: &str = include_str!("site/style.css");

/// A file of the site that cannot be written (or a folder the build refuses to write into).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct SiteError {
    /// The file or folder.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Writes the site for `catalog` and `flow` into `site_dir`, and returns how many HTML pages it wrote.
///
/// `site_dir` may be missing, empty, or a previous build (it holds [`MARKER`]): the files that build
/// listed are removed first, so pages of deleted events do not linger, and nothing else is touched.
///
/// # Errors
/// [`SiteError`] naming the file that cannot be written or removed, or `site_dir` itself when it
/// holds other files and no [`MARKER`]: the build never writes over a folder it did not make.
pub fn write(catalog: &Catalog, flow: &Flow, site_dir: &Path) -> Result<usize, SiteError> {
    let files = render(catalog, flow);
    let pages = files.iter().filter(|(parts, _)| is_page(parts)).count();
    remove_previous(site_dir)?;
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| SiteError { path, source }
    };
    // The listing goes first: a build that fails half-way still leaves a folder the next one may clear.
    let mut listing = String::from("# Written by `herald catalog build`; the next build removes these files.\n");
    for (parts, _) in &files {
        listing.push_str(&parts.join("/"));
        listing.push('\n');
    }
    std::fs::create_dir_all(site_dir).map_err(failed(site_dir))?;
    let marker = site_dir.join(MARKER);
    std::fs::write(&marker, listing).map_err(failed(&marker))?;
    for (parts, contents) in &files {
        let path = site_dir.join(path(parts));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed(parent))?;
        }
        std::fs::write(&path, contents).map_err(failed(&path))?;
    }
    Ok(pages)
}

/// A file's place in the site, one entry per path segment (already safe as a file name).
type Parts = Vec<String>;

fn is_page(parts: &Parts) -> bool {
    parts.last().is_some_and(|name| name.ends_with(".html"))
}

/// Every file of the site, in memory: nothing is written unless all of it renders.
fn render(catalog: &Catalog, flow: &Flow) -> Vec<(Parts, String)> {
    let diagram = diagram::render(catalog, flow).into_string();
    let mut files = vec![
        (vec!["style.css".to_owned()], STYLE.to_owned()),
        (
            vec!["flow.svg".to_owned()],
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{diagram}\n"),
        ),
        (
            vec!["index.html".to_owned()],
            index_page(catalog, flow, &diagram).into_string(),
        ),
    ];
    for event in &catalog.events {
        let page = event_page(event, &flow.links(event), flow);
        files.push((event_file(&event.source, &event.detail_type), page.into_string()));
    }
    let workspace = std::fs::canonicalize(&catalog.root)
        .ok()
        .and_then(|root| root.parent().map(Path::to_owned));
    for function in &flow.functions {
        let page = function_page(function, catalog, flow, workspace.as_deref());
        files.push((function_file(&function.binary), page.into_string()));
    }
    files
}

/// Removes what the previous build listed in its [`MARKER`], then the folders left empty.
fn remove_previous(site_dir: &Path) -> Result<(), SiteError> {
    let failed = |path: &Path, source| SiteError {
        path: path.to_owned(),
        source,
    };
    let mut entries = match std::fs::read_dir(site_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(failed(site_dir, e)),
    };
    let marker = site_dir.join(MARKER);
    let listing = match std::fs::read_to_string(&marker) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if entries.next().is_none() {
                return Ok(());
            }
            return Err(failed(
                site_dir,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "not empty, and not written by `herald catalog build` (no {MARKER}); choose another folder"
                    ),
                ),
            ));
        }
        Err(e) => return Err(failed(&marker, e)),
    };
    let mut folders = Vec::new();
    for line in listing.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let relative = Path::new(line);
        // Only plain names below the folder: a tampered listing cannot reach outside it.
        if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            continue;
        }
        let file = site_dir.join(relative);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&file, e)),
        }
        folders.extend(
            relative
                .ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty())
                .map(|a| site_dir.join(a)),
        );
    }
    // Deepest first, so that a folder is emptied before its parent is tried.
    folders.sort_by_key(|f| (std::cmp::Reverse(f.components().count()), f.clone()));
    folders.dedup();
    for folder in folders {
        // Still holding someone else's files: keep it.
        std::fs::remove_dir(&folder).ok();
    }
    std::fs::remove_file(&marker).map_err(|e| failed(&marker, e))
}

/// A name as a file name: no separators or control characters, never `.` or `..`.
fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".to_owned(),
        _ => cleaned,
    }
}

/// Where an event's page is: `events/<source>/<DetailType>.html`.
fn event_file(source: &str, detail_type: &str) -> Parts {
    vec![
        "events".to_owned(),
        file_name(source),
        format!("{}.html", file_name(detail_type)),
    ]
}

/// Where a function's page is: `functions/<binary>.html`.
fn function_file(binary: &str) -> Parts {
    vec!["functions".to_owned(), format!("{}.html", file_name(binary))]
}

fn path(parts: &Parts) -> PathBuf {
    parts.iter().collect()
}

/// The link to a file from the site's root: each segment percent-encoded but for unreserved characters.
fn href(parts: &Parts) -> String {
    let mut encoded = String::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            encoded.push('/');
        }
        for byte in part.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    encoded
}

/// The path back to the site's root from a page at `parts`.
fn root_of(parts: &Parts) -> String {
    "../".repeat(parts.len().saturating_sub(1))
}

/// The frame every page shares.
fn page(title: &str, root: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href={ (root) "style.css" };
            }
            body {
                header.site { a href={ (root) "index.html" } { "Herald event catalog" } }
                main { (body) }
            }
        }
    }
}

/// Links to versions of an event, on its page at `page` (empty for the page itself); versions the
/// catalog does not have are shown unlinked.
fn version_links(page: &str, event: Option<&CatalogEvent>, versions: &[u32]) -> Markup {
    html! {
        @for (index, number) in versions.iter().enumerate() {
            @if index > 0 { ", " }
            @if event.is_some_and(|e| e.version(*number).is_some()) {
                a href={ (page) "#v" (number) } { "v" (number) }
            } @else {
                "v" (number)
            }
        }
    }
}

fn producer_markup(root: &str, producer: &Producer, flow: &Flow) -> Markup {
    html! {
        @match producer {
            Producer::Function(binary) if flow.function(binary).is_some() => {
                a href={ (root) (href(&function_file(binary))) } { (binary) }
            }
            Producer::Function(binary) => { (binary) }
            Producer::External(name) => { (name) " " span.muted { "(external)" } }
        }
    }
}

fn index_page(catalog: &Catalog, flow: &Flow, diagram: &str) -> Markup {
    let mut sources: BTreeMap<&str, Vec<&CatalogEvent>> = BTreeMap::new();
    for event in &catalog.events {
        sources.entry(&event.source).or_default().push(event);
    }
    let versions: usize = catalog.events.iter().map(|e| e.versions.len()).sum();
    let body = html! {
        h1 { "Event catalog" }
        p.subtitle {
            (catalog.events.len()) " events from " (sources.len()) " sources, " (versions) " schema versions, "
            (flow.functions.len()) " functions."
        }
        section #flow {
            h2 { "Flow" }
            figure.flow {
                (PreEscaped(diagram))
                figcaption.muted {
                    "Left to right: who publishes each event, and the functions that receive it. "
                    "Click a box for its page; the diagram alone is " a href="flow.svg" { "flow.svg" } "."
                }
            }
        }
        section #events {
            h2 { "Events" }
            table {
                thead { tr { th { "Event" } th { "Versions" } th { "Producers" } th { "Consumers" } } }
                @for (source, events) in &sources {
                    tbody {
                        tr.source { th colspan="4" id={ "source-" (source) } { (source) } }
                        @for event in events {
                            @let page = event_file(&event.source, &event.detail_type);
                            @let links = flow.links(event);
                            @let numbers: Vec<u32> = event.versions.iter().map(|v| v.number).collect();
                            tr {
                                td { a href=(href(&page)) { (event.detail_type) } }
                                td { (version_links(&href(&page), Some(event), &numbers)) }
                                td {
                                    @for (index, (producer, _)) in links.producers.iter().enumerate() {
                                        @if index > 0 { ", " }
                                        (producer_markup("", producer, flow))
                                    }
                                    @if links.producers.is_empty() { span.muted { "none" } }
                                }
                                td { (consumer_count(event, &links)) }
                            }
                        }
                    }
                }
            }
        }
        section #functions {
            h2 { "Functions" }
            table {
                thead { tr { th { "Function" } th { "Description" } th { "Receives" } th { "Publishes" } } }
                tbody {
                    @for function in &flow.functions {
                        tr {
                            td { a href=(href(&function_file(&function.binary))) { (function.binary) } }
                            td { (function.description.as_deref().unwrap_or("")) }
                            td { (counted(flow.consumed_by(&function.binary).len(), "event")) }
                            td {
                                @match &function.emits {
                                    Some(emits) => { (counted(emits.len(), "event version")) }
                                    None => { span.muted { "not declared" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Event catalog — Herald", "", body)
}

/// `1 event`, `2 events`.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Functions and external systems receiving the event, or why none does.
fn consumer_count(event: &CatalogEvent, links: &Links) -> Markup {
    let mut functions: Vec<&str> = links.consumers.iter().map(|c| c.function.as_str()).collect();
    functions.dedup();
    let count = functions.len() + event.declared.external_consumers.len();
    html! {
        (count)
        @if count == 0 && event.declared.terminal.is_some() { " " span.muted { "(terminal)" } }
    }
}

/// The event's description: `event.yaml`'s, or else the latest schema's.
fn description(event: &CatalogEvent) -> Option<String> {
    event.declared.description.clone().or_else(|| {
        event
            .latest()
            .and_then(|v| v.schema.get("description"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// The version's schema with its properties in the order the file writes them (the parsed
/// value has them sorted), falling back to the parsed value when the file cannot be read again.
fn schema_in_written_order(version: &EventVersion) -> Result<Schema, SchemaError> {
    match std::fs::read(&version.schema_path) {
        Ok(bytes) => Schema::from_slice(&bytes),
        Err(_) => Schema::from_value(&version.schema),
    }
}

fn event_page(event: &CatalogEvent, links: &Links, flow: &Flow) -> Markup {
    let file = event_file(&event.source, &event.detail_type);
    let root = root_of(&file);
    let description = description(event);
    let schemas: Vec<Result<Schema, SchemaError>> = event.versions.iter().map(schema_in_written_order).collect();
    let body = html! {
        p.crumbs { a href={ (root) "index.html#source-" (event.source) } { (event.source) } }
        h1 { (event.detail_type) }
        p.subtitle { "source " code { (event.source) } " · detail-type " code { (event.detail_type) } }
        @if let Some(description) = &description { p { (description) } }
        (markings(&event.declared))
        nav.versions aria-label="Versions" {
            "Versions: "
            @for version in &event.versions { a href={ "#v" (version.number) } { "v" (version.number) } }
        }
        section #producers {
            h2 { "Producers" }
            @if links.producers.is_empty() {
                p.muted { "No function declares it and event.yaml names no external producer." }
            } @else {
                table {
                    thead { tr { th { "Producer" } th { "Versions" } } }
                    tbody {
                        @for (producer, versions) in &links.producers {
                            tr {
                                td { (producer_markup(&root, producer, flow)) }
                                td { (version_links("", Some(event), versions)) }
                            }
                        }
                    }
                }
            }
        }
        section #consumers {
            h2 { "Consumers" }
            @if links.consumers.is_empty() && event.declared.external_consumers.is_empty() {
                p.muted {
                    @match &event.declared.terminal {
                        Some(reason) => { "None, on purpose: " (reason) }
                        None => { "No rule of the template matches its samples." }
                    }
                }
            }
            @if !links.consumers.is_empty() {
                table {
                    thead { tr { th { "Function" } th { "Rule" } th { "Bus" } th { "Versions" } } }
                    tbody {
                        @for consumer in &links.consumers {
                            tr {
                                td {
                                    a href={ (root) (href(&function_file(&consumer.function))) } { (consumer.function) }
                                }
                                td { code { (consumer.rule) } }
                                td { (consumer.bus) }
                                td { (version_links("", Some(event), &consumer.versions)) }
                            }
                        }
                    }
                }
            }
            @if !event.declared.external_consumers.is_empty() {
                p { "Outside this repository: " (event.declared.external_consumers.join(", ")) "." }
            }
        }
        @for (index, version) in event.versions.iter().enumerate() {
            @let previous = index.checked_sub(1).and_then(|i| Some((event.versions.get(i)?, schemas.get(i)?)));
            (version_section(version, schemas.get(index), previous, description.as_deref()))
        }
    };
    page(&format!("{} — Herald event catalog", event.name()), &root, body)
}

fn markings(declared: &Declarations) -> Markup {
    let any = !declared.external_producers.is_empty()
        || !declared.external_consumers.is_empty()
        || declared.terminal.is_some();
    html! {
        @if any {
            dl.markings {
                @if !declared.external_producers.is_empty() {
                    dt { "External producers" } dd { (declared.external_producers.join(", ")) }
                }
                @if !declared.external_consumers.is_empty() {
                    dt { "External consumers" } dd { (declared.external_consumers.join(", ")) }
                }
                @if let Some(reason) = &declared.terminal {
                    dt { "Terminal" } dd { (reason) }
                }
            }
        }
    }
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

fn version_section(
    version: &EventVersion,
    schema: Option<&Result<Schema, SchemaError>>,
    previous: Option<(&EventVersion, &Result<Schema, SchemaError>)>,
    page_description: Option<&str>,
) -> Markup {
    let own_description = version
        .schema
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| Some(*d) != page_description);
    html! {
        section.version {
            h2 id={ "v" (version.number) } { "Version " (version.number) }
            @if let Some(description) = own_description { p { (description) } }
            @if let Some((before, before_schema)) = previous {
                (changes(before, before_schema, version, schema))
            }
            h3 { "Fields of " code { "detail" } }
            @match schema {
                Some(Ok(schema)) => { (fields_table(schema)) }
                Some(Err(error)) => {
                    p.error { (file_label(&version.schema_path)) " is not a schema this catalog reads: " (error) }
                }
                None => {}
            }
            details {
                summary { "The JSON Schema, " (file_label(&version.schema_path)) }
                pre { code { (pretty(&version.schema)) } }
            }
            h3 { "Samples" }
            @for sample in &version.samples {
                figure {
                    figcaption { (file_label(&sample.path)) }
                    pre { code { (pretty(&sample.event)) } }
                }
            }
        }
    }
}

fn fields_table(schema: &Schema) -> Markup {
    html! {
        table.fields {
            thead { tr { th { "Field" } th { "Type" } th { "Required" } th { "Constraints" } th { "Description" } } }
            tbody {
                @for field in schema.fields() {
                    tr {
                        td.field { code { (field.path) } }
                        td { (field.types) }
                        td { @if field.required { "required" } @else { span.muted { "optional" } } }
                        td {
                            ul.plain { @for constraint in &field.constraints { li { code { (constraint) } } } }
                        }
                        td { (field.description.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

fn changes(
    before: &EventVersion,
    before_schema: &Result<Schema, SchemaError>,
    after: &EventVersion,
    after_schema: Option<&Result<Schema, SchemaError>>,
) -> Markup {
    let compared: Option<Vec<Change>> = match (before_schema, after_schema) {
        (Ok(old), Some(Ok(new))) => Some(evolution::compare(old, new)),
        _ => None,
    };
    html! {
        section.changes id={ "changes-v" (before.number) "-v" (after.number) } {
            h3 { "Changes from " a href={ "#v" (before.number) } { "v" (before.number) } }
            @match &compared {
                None => { p.error { "Cannot compare: a schema does not read." } }
                Some(changes) if changes.is_empty() => { p { "No change to the schema." } }
                Some(changes) => {
                    @let breaking = changes.iter().filter(|c| c.is_breaking()).count();
                    p { (breaking) " breaking, " (changes.len() - breaking) " compatible:" }
                    ul {
                        @for change in changes {
                            li.breaking[change.is_breaking()] {
                                @if change.is_breaking() {
                                    span.badge.breaking { "breaking" }
                                } @else {
                                    span.badge { "compatible" }
                                }
                                " " code { (change.to_string()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn function_page(function: &CatalogFunction, catalog: &Catalog, flow: &Flow, workspace: Option<&Path>) -> Markup {
    let file = function_file(&function.binary);
    let root = root_of(&file);
    let consumed = flow.consumed_by(&function.binary);
    let versions = |source: &str, detail_type: &str, numbers: &[u32]| {
        let page = format!("{root}{}", href(&event_file(source, detail_type)));
        version_links(&page, catalog.event(source, detail_type), numbers)
    };
    struct RuleRow<'a> {
        rule: &'a StackRule,
        /// `RuleName`, or the name SAM gives it.
        name: &'a str,
        /// Catalogued samples the pattern matched.
        samples: usize,
        /// The events of those samples.
        events: Vec<(&'a str, &'a str)>,
    }
    let rules: Vec<RuleRow> = function
        .rules
        .iter()
        .map(|rule| {
            let matched = flow
                .rule_matches
                .iter()
                .find(|m| m.function == function.binary && m.event == rule.event);
            let name = matched.map_or(rule.event.as_str(), |m| m.rule.as_str());
            RuleRow {
                rule,
                name,
                samples: matched.map_or(0, |m| m.samples),
                events: consumed
                    .iter()
                    .filter(|(_, _, c)| c.rule == name)
                    .map(|(source, detail_type, _)| (source.as_str(), detail_type.as_str()))
                    .collect(),
            }
        })
        .collect();
    let event_link = |source: &str, detail_type: &str| {
        let page = event_file(source, detail_type);
        let event = catalog.event(source, detail_type);
        html! {
            @if event.is_some() {
                a href={ (root) (href(&page)) } { (source) "/" (detail_type) }
            } @else {
                code { (source) "/" (detail_type) } " " span.muted { "(not in the catalog)" }
            }
        }
    };
    let mut emitted: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    for reference in function.emits.iter().flatten() {
        emitted
            .entry((&reference.source, &reference.detail_type))
            .or_default()
            .push(reference.version);
    }
    let manifest = function.manifest.as_deref().map(|m| {
        workspace
            .and_then(|w| m.strip_prefix(w).ok())
            .unwrap_or(m)
            .display()
            .to_string()
    });
    let body = html! {
        p.crumbs { a href={ (root) "index.html#functions" } { "Functions" } }
        h1 { (function.binary) }
        p.subtitle { "function " code { (function.logical_id) } " in the template" }
        @if let Some(description) = &function.description { p { (description) } }
        section #rules {
            h2 { "Rules" }
            @if function.rules.is_empty() {
                p.muted { "No EventBridge rule: nothing on a bus invokes it." }
            } @else {
                table {
                    thead { tr { th { "Rule" } th { "Bus" } th { "Matches" } } }
                    tbody {
                        @for row in &rules {
                            tr {
                                td {
                                    code { (row.name) }
                                    details {
                                        summary { "pattern (" code { "Events." (row.rule.event) ".Properties.Pattern" } ")" }
                                        pre { (serde_json::to_string_pretty(&row.rule.pattern_json).unwrap_or_default()) }
                                    }
                                }
                                td { (row.rule.bus) }
                                td {
                                    ul.plain {
                                        @for (source, detail_type) in &row.events {
                                            li { (event_link(source, detail_type)) }
                                        }
                                    }
                                    span.muted { "(" (counted(row.samples, "catalogued sample")) " matched)" }
                                }
                            }
                        }
                    }
                }
                p.muted {
                    "The patterns are in the template under " code { "Resources." (function.logical_id) ".Properties" }
                    " (shown with " code { "${AWS::StackName}" } " as " code { (flow.stack_name) } "); each is run over every catalogued sample to find what the function receives."
                }
            }
        }
        section #receives {
            h2 { "Receives" }
            @if consumed.is_empty() {
                p.muted { "No catalogued event." }
            } @else {
                table {
                    thead { tr { th { "Event" } th { "Versions" } th { "Rule" } } }
                    tbody {
                        @for (source, detail_type, consumer) in &consumed {
                            tr {
                                td { (event_link(source, detail_type)) }
                                td {
                                    (versions(source, detail_type, &consumer.versions))
                                }
                                td { code { (consumer.rule) } }
                            }
                        }
                    }
                }
            }
        }
        section #publishes {
            h2 { "Publishes" }
            @match &function.emits {
                None => {
                    p.muted { "Not declared: its Cargo.toml has no " code { "[package.metadata.herald] emits" } "." }
                }
                Some(emits) if emits.is_empty() => { p { "Nothing (declared " code { "emits = []" } ")." } }
                Some(_) => {
                    table {
                        thead { tr { th { "Event" } th { "Versions" } } }
                        tbody {
                            @for ((source, detail_type), numbers) in &emitted {
                                tr {
                                    td { (event_link(source, detail_type)) }
                                    td {
                                        (versions(source, detail_type, numbers))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #source {
            h2 { "Source" }
            @match &manifest {
                Some(manifest) => { p { "Crate: " code { (manifest) } } }
                None => { p.muted { "Not a crate of this workspace." } }
            }
        }
    };
    page(
        &format!("{} (function) — Herald event catalog", function.binary),
        &root,
        body,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::error::Error;

    use serde_json::json;

    use super::*;
    use crate::emits;
    use crate::model::Sample;
    use herald_infra::Stack;

    type TestResult = Result<(), Box<dyn Error>>;

    /// Text that must come out as text wherever it lands.
    const HOSTILE: &str = "<script>alert(\"x\")</script> & <b>bold</b>";

    const TEMPLATE: &str = r#"
Resources:
  FishFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: fish
    Properties:
      Description: '<script>alert("x")</script> & <b>bold</b>'
      Events:
        Fish:
          Type: EventBridgeRule
          Properties:
            RuleName: fish-<rule>
            Pattern:
              source: [shop.test]
"#;

    fn project() -> Result<(Catalog, Flow), Box<dyn Error>> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&workspace.join("events"))?;
        let template = Stack::load(&workspace.join("infra/template.yaml"))?;
        let declarations = emits::declarations(&workspace)?;
        let flow = Flow::derive(&catalog, &template, &declarations);
        Ok((catalog, flow))
    }

    /// One event whose every name, description and sample is hostile, received by one function.
    fn hostile() -> Result<(Catalog, Flow), Box<dyn Error>> {
        let detail_type = "Fish&Chips<1>";
        let event = CatalogEvent {
            source: "shop.test".into(),
            detail_type: detail_type.into(),
            dir: PathBuf::from("events/shop.test").join(detail_type),
            versions: vec![EventVersion {
                number: 1,
                schema_path: PathBuf::from("v1.schema.json"),
                schema: json!({
                    "type": "object",
                    "description": HOSTILE,
                    "properties": {"note": {"type": "string", "description": HOSTILE, "pattern": "^<[a-z]+>$"}}
                }),
                samples: vec![Sample {
                    path: PathBuf::from("v1.sample.json"),
                    label: None,
                    event: json!({"source": "shop.test", "detail-type": detail_type,
                        "detail": {"note": "</code></pre><script>alert(1)</script>"}}),
                }],
            }],
            declared: Declarations {
                external_producers: vec!["<evil>".into()],
                external_consumers: vec!["<b>partner</b>".into()],
                terminal: None,
                description: Some(HOSTILE.into()),
            },
        };
        let catalog = Catalog {
            root: PathBuf::from("events"),
            events: vec![event],
        };
        let template = Stack::parse(Path::new("template.yaml"), TEMPLATE)?;
        let flow = Flow::derive(&catalog, &template, &BTreeMap::new());
        Ok((catalog, flow))
    }

    fn read(site: &Path, parts: &Parts) -> Result<String, std::io::Error> {
        std::fs::read_to_string(site.join(path(parts)))
    }

    /// Every file under `dir`.
    fn files_under(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                found.extend(files_under(&path)?);
            } else {
                found.push(path);
            }
        }
        Ok(found)
    }

    /// From `id="<id>"` to the next `</section>`.
    fn section<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page.find(&format!("id=\"{id}\"")).unwrap_or(page.len());
        let rest = &page[start..];
        &rest[..rest.find("</section>").unwrap_or(rest.len())]
    }

    /// The values of every `href` and `src` attribute, unescaped.
    fn links(page: &str) -> Vec<String> {
        let mut found = Vec::new();
        for attribute in [" href=\"", " src=\"", "\nhref=\"", "\nsrc=\""] {
            for (start, _) in page.match_indices(attribute) {
                let value = &page[start + attribute.len()..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                found.push(value.replace("&quot;", "\"").replace("&amp;", "&"));
            }
        }
        found
    }

    fn percent_decoded(text: &str) -> Result<String, Box<dyn Error>> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'%' {
                let hex = text.get(index + 1..index + 3).ok_or("truncated %-escape")?;
                out.push(u8::from_str_radix(hex, 16)?);
                index += 3;
            } else {
                out.push(bytes[index]);
                index += 1;
            }
        }
        Ok(String::from_utf8(out)?)
    }

    /// Every link of every page of `site` is relative and reaches a file (and the anchor, if any).
    fn assert_links_resolve(site: &Path) -> TestResult {
        let mut checked = 0;
        for file in files_under(site)? {
            if !file.extension().is_some_and(|e| e == "html" || e == "svg") {
                continue;
            }
            let page = std::fs::read_to_string(&file)?;
            for link in links(&page) {
                assert!(
                    !link.contains(':') && !link.starts_with('/'),
                    "{}: {link} is not relative",
                    file.display()
                );
                let (target, anchor) = link.split_once('#').unwrap_or((&link, ""));
                let target = match target {
                    "" => file.clone(),
                    relative => file.parent().ok_or("no parent")?.join(percent_decoded(relative)?),
                };
                assert!(target.is_file(), "{}: {link} points nowhere", file.display());
                if !anchor.is_empty() {
                    let text = std::fs::read_to_string(&target)?;
                    assert!(
                        text.contains(&format!("id=\"{anchor}\"")),
                        "{}: {link}: no such anchor",
                        file.display()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 0, "no links at all");
        Ok(())
    }

    /// HTML's elements without a closing tag that the pages use.
    const VOID: &[&str] = &["meta", "link", "br"];

    /// Tags open and close in order (`<x/>` and the `void` ones aside), and every `&` starts an entity.
    fn well_formed(xml: &str, void: &[&str]) -> Result<(), String> {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').ok_or("a `<` is never closed")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
                continue;
            }
            match tag.strip_prefix('/') {
                Some(name) => match open.pop() {
                    Some(last) if last == name => {}
                    last => return Err(format!("</{name}> closes {last:?}")),
                },
                None => {
                    let name = tag.split_whitespace().next().unwrap_or_default();
                    if !void.contains(&name) {
                        open.push(name);
                    }
                }
            }
        }
        if !open.is_empty() {
            return Err(format!("never closed: {open:?}"));
        }
        for (at, _) in xml.match_indices('&') {
            let entity = &xml[at..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&#"]
                .iter()
                .any(|e| entity.starts_with(e))
            {
                return Err(format!("bare & at {at}"));
            }
        }
        Ok(())
    }

    #[test]
    fn every_event_and_function_of_the_project_gets_a_page() -> TestResult {
        // Given the project's catalog and template
        let (catalog, flow) = project()?;
        let site = tempfile::tempdir()?;
        // When the site is built
        let pages = write(&catalog, &flow, site.path())?;
        // Then there is an index, a page per event and one per function, each with its own title
        assert_eq!(pages, 1 + catalog.events.len() + flow.functions.len());
        let mut titles = BTreeSet::new();
        let event_pages = catalog.events.iter().map(|e| event_file(&e.source, &e.detail_type));
        let function_pages = flow.functions.iter().map(|f| function_file(&f.binary));
        for parts in event_pages.chain(function_pages).chain([vec!["index.html".to_owned()]]) {
            let page = read(site.path(), &parts)?;
            assert!(page.starts_with("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"));
            let title = page.split("<title>").nth(1).and_then(|t| t.split("</title>").next());
            assert!(
                titles.insert(title.unwrap_or_default().to_owned()),
                "{parts:?}: {title:?} again"
            );
            assert!(!page.contains("<script"), "{parts:?}");
            well_formed(&page, VOID).map_err(|e| format!("{parts:?}: {e}"))?;
        }
        for file in ["style.css", "flow.svg", MARKER] {
            assert!(site.path().join(file).is_file(), "{file}");
        }
        Ok(())
    }

    #[test]
    fn the_order_cancelled_page_lists_its_consuming_functions_with_their_rules() -> TestResult {
        let (catalog, flow) = project()?;
        let site = tempfile::tempdir()?;
        write(&catalog, &flow, site.path())?;
        let page = read(site.path(), &event_file("shop.orders", "OrderCancelled"))?;
        let consumers = section(&page, "consumers");
        for function in ["contracts", "inventory", "fulfillment"] {
            assert!(
                consumers.contains(&format!("<a href=\"../../functions/{function}.html\">{function}</a>")),
                "{function} missing from {consumers}"
            );
        }
        assert!(
            consumers.contains("-inventory"),
            "the rule's name is shown: {consumers}"
        );
        Ok(())
    }

    #[test]
    fn the_order_placed_page_shows_both_versions_and_flags_the_breaking_change_between_them() -> TestResult {
        let (catalog, flow) = project()?;
        let site = tempfile::tempdir()?;
        write(&catalog, &flow, site.path())?;
        let page = read(site.path(), &event_file("shop.orders", "OrderPlaced"))?;
        assert!(page.contains("<h2 id=\"v1\">Version 1</h2>") && page.contains("<h2 id=\"v2\">Version 2</h2>"));
        assert!(page.contains("v1.sample.insured.json") && page.contains("v2.sample.json"));
        assert!(page.contains("<code>data.order_id</code>"), "the fields table");
        let changes = section(&page, "changes-v1-v2");
        assert!(
            changes.contains("<span class=\"badge breaking\">breaking</span>"),
            "{changes}"
        );
        assert!(!page.contains("id=\"changes-v0-v1\""), "v1 has nothing before it");
        Ok(())
    }

    #[test]
    fn every_relative_link_in_the_project_site_reaches_a_file_and_its_anchor() -> TestResult {
        let (catalog, flow) = project()?;
        let site = tempfile::tempdir()?;
        write(&catalog, &flow, site.path())?;
        assert_links_resolve(site.path())
    }

    #[test]
    fn the_diagram_names_every_event_and_function_and_is_well_formed() -> TestResult {
        let (catalog, flow) = project()?;
        let site = tempfile::tempdir()?;
        write(&catalog, &flow, site.path())?;
        let svg = std::fs::read_to_string(site.path().join("flow.svg"))?;
        for event in &catalog.events {
            assert!(
                svg.contains(&format!(">{}</text>", event.detail_type)),
                "{}",
                event.name()
            );
        }
        for function in &flow.functions {
            assert!(
                svg.contains(&format!(">{}</text>", function.binary)),
                "{}",
                function.binary
            );
        }
        assert!(svg.contains("marker-end=\"url(#flow-arrow)\""));
        well_formed(&svg, &[])?;
        let index = read(site.path(), &vec!["index.html".to_owned()])?;
        assert!(
            index.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "inlined in the index"
        );
        Ok(())
    }

    #[test]
    fn names_descriptions_and_samples_are_escaped_on_every_page() -> TestResult {
        // Given an event, a rule and a function whose every text is markup
        let (catalog, flow) = hostile()?;
        let site = tempfile::tempdir()?;
        // When the site is built
        let pages = write(&catalog, &flow, site.path())?;
        assert_eq!(pages, 3);
        // Then no file carries the markup, every one shows it as text, and the links still work
        let event_page = site.path().join(path(&event_file("shop.test", "Fish&Chips<1>")));
        assert!(event_page.is_file());
        for file in files_under(site.path())? {
            if file.ends_with(MARKER) {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            for raw in ["<script", "<b>", "<evil>", "<1>", "<rule>"] {
                assert!(!text.contains(raw), "{}: {raw}", file.display());
            }
            if file.extension().is_some_and(|e| e == "html") {
                assert!(
                    text.contains("&lt;script&gt;") || text.contains("&lt;b&gt;"),
                    "{}",
                    file.display()
                );
            }
        }
        let index = std::fs::read_to_string(site.path().join("index.html"))?;
        assert!(
            index.contains("href=\"events/shop.test/Fish%26Chips%3C1%3E.html\""),
            "{index}"
        );
        well_formed(&std::fs::read_to_string(site.path().join("flow.svg"))?, &[])?;
        assert_links_resolve(site.path())
    }

    #[test]
    fn a_rebuild_removes_what_the_last_build_wrote_and_keeps_everything_else() -> TestResult {
        // Given a previous build that wrote a page since deleted, and a file someone added
        let (catalog, flow) = hostile()?;
        let site = tempfile::tempdir()?;
        write(&catalog, &flow, site.path())?;
        let stale = site.path().join("events/shop.gone/Gone.html");
        std::fs::create_dir_all(stale.parent().ok_or("no parent")?)?;
        std::fs::write(&stale, "old")?;
        let listing = std::fs::read_to_string(site.path().join(MARKER))?;
        std::fs::write(
            site.path().join(MARKER),
            format!("{listing}events/shop.gone/Gone.html\n../outside.txt\n"),
        )?;
        std::fs::write(site.path().join("notes.txt"), "mine")?;
        // When the site is built again
        write(&catalog, &flow, site.path())?;
        // Then the stale page and its folder are gone, and the added file is still there
        assert!(!stale.exists() && !site.path().join("events/shop.gone").exists());
        assert_eq!(std::fs::read_to_string(site.path().join("notes.txt"))?, "mine");
        assert!(site.path().join("index.html").is_file());
        Ok(())
    }

    #[test]
    fn a_folder_that_no_build_wrote_is_refused_and_left_untouched() -> TestResult {
        let (catalog, flow) = hostile()?;
        let site = tempfile::tempdir()?;
        std::fs::write(site.path().join("index.html"), "someone else's")?;
        let error = write(&catalog, &flow, site.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("not written by `herald catalog build`"), "{error}");
        assert_eq!(
            std::fs::read_to_string(site.path().join("index.html"))?,
            "someone else's"
        );
        Ok(())
    }

    #[test]
    fn links_are_percent_encoded_and_file_names_stay_inside_the_site() {
        assert_eq!(
            href(&event_file("shop.orders", "OrderPlaced")),
            "events/shop.orders/OrderPlaced.html"
        );
        assert_eq!(href(&function_file("a b&c")), "functions/a%20b%26c.html");
        assert_eq!(path(&event_file("..", "../x")), Path::new("events/_/.._x.html"));
        assert_eq!(root_of(&event_file("s", "d")), "../../");
    }
}
