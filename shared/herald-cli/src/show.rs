//! `herald show`: read events (any source, any detail-type: only Herald's metadata is decoded)
//! and print their flows as causation trees. Each line names the event, its version and the
//! identifiers its data carries (its `…_id` fields), so a flow can be read without knowing the
//! events' types.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use herald::{EnvelopeError, Metadata, RawEvent};
use serde::Deserialize;
use uuid::Uuid;

/// Why `show` failed; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not a catalogued event.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<EnvelopeError>,
    },
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

/// Decodes every event under `paths` and prints the flows to `out`.
///
/// # Errors
/// The first file that cannot be read or decoded, naming it.
pub fn run(paths: &[PathBuf], out: &mut impl Write) -> Result<(), ShowError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    files.sort();
    let mut events = Vec::with_capacity(files.len());
    for path in files {
        let bytes = std::fs::read(&path).map_err(|source| ShowError::Read {
            path: path.clone(),
            source,
        })?;
        let event = RawEvent::parse(&bytes)
            .and_then(|raw| Shown::of(&raw))
            .map_err(|source| ShowError::Decode {
                path,
                source: Box::new(source),
            })?;
        events.push(event);
    }
    print_flows(&events, out)
}

/// Adds `path` if it is a file named on the command line, or the samples below it if it is a
/// directory. A named file is always read, so a typo fails loudly instead of printing nothing.
/// Below a directory, the folders of AWS's own sources (`aws.*`, catalogued for the functions
/// that react to them) are passed over: their events carry no Herald metadata and no flow.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), ShowError> {
    if !path.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }
    let read_error = |source| ShowError::Read {
        path: path.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let entry = entry.map_err(read_error)?.path();
        let is_sample = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.contains(".sample") && n.ends_with(".json"));
        let aws_source = entry.is_dir()
            && entry
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("aws."));
        if (entry.is_dir() && !aws_source) || is_sample {
            collect(&entry, files)?;
        }
    }
    Ok(())
}

fn print_flows(events: &[Shown], out: &mut impl Write) -> Result<(), ShowError> {
    let mut flows: BTreeMap<Uuid, Vec<&Shown>> = BTreeMap::new();
    for event in events {
        flows.entry(event.metadata.correlation_id).or_default().push(event);
    }
    let mut flows: Vec<Vec<&Shown>> = flows.into_values().collect();
    for flow in &mut flows {
        flow.sort_by_key(|e| e.metadata.occurred_at);
    }
    flows.sort_by_key(|flow| flow.first().map(|e| e.metadata.occurred_at));
    for flow in &flows {
        let Some(first) = flow.first() else { continue };
        writeln!(out, "flow {} ({} events)", first.metadata.correlation_id, flow.len())?;
        let roots: Vec<&Shown> = flow
            .iter()
            .copied()
            .filter(|e| !is_caused_within(&e.metadata, flow))
            .collect();
        print_children(&roots, flow, "", out)?;
        writeln!(out)?;
    }
    Ok(())
}

fn is_caused_within(metadata: &Metadata, flow: &[&Shown]) -> bool {
    metadata
        .causation_id
        .is_some_and(|cause| flow.iter().any(|e| e.metadata.event_id == cause))
}

fn print_children(level: &[&Shown], flow: &[&Shown], indent: &str, out: &mut impl Write) -> Result<(), ShowError> {
    for (i, event) in level.iter().enumerate() {
        let last = i + 1 == level.len();
        let metadata = &event.metadata;
        writeln!(
            out,
            "{indent}{} {}  {}  [{} event_id={}]",
            if last { "└─" } else { "├─" },
            metadata
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            describe(event),
            metadata.producer,
            metadata.event_id,
        )?;
        let children: Vec<&Shown> = flow
            .iter()
            .copied()
            .filter(|e| e.metadata.causation_id == Some(metadata.event_id))
            .collect();
        let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
        print_children(&children, flow, &deeper, out)?;
    }
    Ok(())
}

/// One event as `show` prints it: what it is and its lineage.
struct Shown {
    detail_type: String,
    metadata: Metadata,
    /// The data's identifiers, `name=value`, in name order.
    ids: Vec<String>,
}

/// The string fields of `detail.data`, read to pick out its identifiers.
#[derive(Deserialize)]
struct DataFields {
    #[serde(default)]
    data: BTreeMap<String, serde_json::Value>,
}

impl Shown {
    fn of(raw: &RawEvent) -> Result<Self, EnvelopeError> {
        let metadata = raw.metadata()?;
        let fields = raw
            .as_value()
            .get("detail")
            .and_then(|detail| DataFields::deserialize(detail).ok())
            .map(|fields| fields.data)
            .unwrap_or_default();
        let ids = fields
            .iter()
            .filter(|(name, _)| name.ends_with("_id"))
            .filter_map(|(name, value)| value.as_str().map(|v| format!("{name}={v}")))
            .collect();
        Ok(Self {
            detail_type: raw.detail_type().unwrap_or("?").to_owned(),
            metadata,
            ids,
        })
    }
}

fn describe(event: &Shown) -> String {
    format!(
        "{} v{}  {}",
        event.detail_type,
        event.metadata.schema_version,
        event.ids.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
    }

    #[test]
    fn the_samples_print_as_three_flows_with_causes_above_effects() -> Result<(), ShowError> {
        let mut out = Vec::new();
        run(&[events_dir()], &mut out)?;
        let text = String::from_utf8_lossy(&out);

        assert_eq!(text.matches("flow ").count(), 3, "{text}");
        let line_of = |event: &str, id: &str| text.lines().position(|line| line.contains(event) && line.contains(id));
        let placed = line_of("OrderPlaced v1  ", "order_id=ord-1001").unwrap_or(usize::MAX);
        let paid = line_of("PaymentCaptured v1  ", "payment_id=pay-9001").unwrap_or(0);
        let cancelled = line_of("OrderCancelled v1  ", "order_id=ord-1001").unwrap_or(0);
        assert!(placed < paid && paid < cancelled, "{text}");
        assert!(
            text.contains("│  ├─") || text.contains("   ├─"),
            "effects are indented under causes: {text}"
        );
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_an_event_is_named_in_the_error() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("herald-show-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let bad = dir.join("v1.sample.broken.json");
        std::fs::write(&bad, "{\"id\": \"abc\", \"detail-type\": ")?;

        let error = run(std::slice::from_ref(&dir), &mut Vec::new())
            .err()
            .ok_or("must fail")?;

        let message = error.to_string();
        assert!(message.contains("v1.sample.broken.json"), "{message}");
        assert!(message.contains("id=abc"), "{message}");
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }
}
