//! The catalog in `events/` and the Rust types agree: every sample decodes, re-encodes to the
//! same JSON, and validates against its schema; every type has a schema and every schema a sample.
//! (Only the shop's own sources, `shop.*`; AWS's events in the catalog are not this crate's.)

use std::collections::BTreeSet;
use std::error::Error;
use std::path::{Path, PathBuf};

use herald::RawEvent;
use herald::envelope::EventSet;
use shop_events::ShopEvent;

type TestResult = Result<(), Box<dyn Error>>;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// A catalog file: `events/<source>/<DetailType>/v<N>.<kind>[.<label>].json`.
struct CatalogFile {
    path: PathBuf,
    source: String,
    detail_type: String,
    version: u32,
    kind: String,
}

fn catalog_files() -> Result<Vec<CatalogFile>, Box<dyn Error>> {
    let mut files = Vec::new();
    for source in std::fs::read_dir(events_dir())? {
        let source = source?.path();
        // The shop's own events; others (AWS's, under aws.*) are catalogued for `herald catalog`
        // but are not this crate's types.
        let shop = source
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("shop."));
        if !source.is_dir() || !shop {
            continue;
        }
        for detail_type in std::fs::read_dir(&source)? {
            let detail_type = detail_type?.path();
            for file in std::fs::read_dir(&detail_type)? {
                let path = file?.path();
                let name = path.file_name().and_then(|n| n.to_str()).ok_or("non-UTF-8 file name")?;
                if name == "event.yaml" {
                    // Producers and consumers outside the repository: `herald catalog check` reads it.
                    continue;
                }
                let mut parts = name.split('.');
                let version = parts
                    .next()
                    .and_then(|v| v.strip_prefix('v'))
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{}: name must start with v<N>.", path.display()))?;
                let kind = parts
                    .next()
                    .ok_or_else(|| format!("{}: no kind", path.display()))?
                    .to_owned();
                let name_of = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_owned);
                files.push(CatalogFile {
                    source: name_of(&source).ok_or("bad source dir")?,
                    detail_type: name_of(&detail_type).ok_or("bad detail-type dir")?,
                    version,
                    kind,
                    path,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn read_json(path: &Path) -> Result<serde_json::Value, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn samples() -> Result<Vec<CatalogFile>, Box<dyn Error>> {
    Ok(catalog_files()?.into_iter().filter(|f| f.kind == "sample").collect())
}

#[test]
fn every_sample_decodes_reencodes_unchanged_and_decodes_equal() -> TestResult {
    let samples = samples()?;
    assert!(
        samples.len() >= 7,
        "expected the starting set of samples, found {}",
        samples.len()
    );
    for sample in samples {
        let original = read_json(&sample.path)?;
        let decoded = RawEvent::from_value(original.clone())
            .decode_set::<ShopEvent>()
            .map_err(|e| format!("{}: {e}", sample.path.display()))?;
        let reencoded = serde_json::to_value(&decoded)?;
        assert_eq!(reencoded, original, "{} changed on re-encoding", sample.path.display());
        let again = RawEvent::from_value(reencoded).decode_set::<ShopEvent>()?;
        assert_eq!(
            again,
            decoded,
            "{} decoded differently the second time",
            sample.path.display()
        );
    }
    Ok(())
}

#[test]
fn every_sample_sits_where_its_source_detail_type_and_version_say() -> TestResult {
    for sample in samples()? {
        let raw = RawEvent::from_value(read_json(&sample.path)?);
        let place = sample.path.display();
        assert_eq!(raw.source(), Some(sample.source.as_str()), "{place}: source");
        assert_eq!(
            raw.detail_type(),
            Some(sample.detail_type.as_str()),
            "{place}: detail-type"
        );
        assert_eq!(raw.schema_version()?, sample.version, "{place}: schema_version");
    }
    Ok(())
}

#[test]
fn every_sample_detail_validates_against_its_schema() -> TestResult {
    for sample in samples()? {
        let schema_path = sample.path.with_file_name(format!("v{}.schema.json", sample.version));
        let schema = read_json(&schema_path)?;
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| format!("{}: invalid schema: {e}", schema_path.display()))?;
        let event = read_json(&sample.path)?;
        let detail = event.get("detail").ok_or("sample has no detail")?;
        let errors: Vec<String> = validator
            .iter_errors(detail)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", sample.path.display());
    }
    Ok(())
}

#[test]
fn schemas_reject_a_detail_that_breaks_them() -> TestResult {
    // Guards the test above against a schema that accepts anything.
    let dir = events_dir().join("shop.orders/OrderPlaced");
    let schema = read_json(&dir.join("v1.schema.json"))?;
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)?;
    let mut detail = read_json(&dir.join("v1.sample.json"))?
        .get("detail")
        .cloned()
        .ok_or("no detail")?;
    assert!(validator.is_valid(&detail));
    if let Some(items) = detail.pointer_mut("/data/items/0/quantity") {
        *items = serde_json::json!(0);
    }
    assert!(!validator.is_valid(&detail), "quantity 0 must be rejected");
    Ok(())
}

#[test]
fn every_rust_event_type_has_a_schema_and_every_schema_a_sample_and_a_type() -> TestResult {
    let files = catalog_files()?;
    let key = |f: &CatalogFile| (f.source.clone(), f.detail_type.clone(), f.version);
    let schemas: BTreeSet<_> = files.iter().filter(|f| f.kind == "schema").map(key).collect();
    let sampled: BTreeSet<_> = files.iter().filter(|f| f.kind == "sample").map(key).collect();
    let typed: BTreeSet<_> = ShopEvent::accepted()
        .iter()
        .flat_map(|a| {
            a.versions
                .iter()
                .map(|v| (a.source.to_owned(), a.detail_type.to_owned(), *v))
        })
        .collect();
    assert_eq!(schemas, typed, "schemas in events/ and types in ShopEvent differ");
    assert_eq!(schemas, sampled, "every schema needs at least one sample");
    Ok(())
}
