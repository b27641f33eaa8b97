//! The workspace's consumers as the end-to-end tests deploy them on moto, read from their
//! declarations: each one's name and tables (environment variable, partition key, sort key).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use aws_config::SdkConfig;

use crate::TestResult;
use crate::dynamodb::{create_idempotency_table, create_table};

/// One table a function reads from the environment.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// The environment variable naming it.
    pub env: &'static str,
    /// Its string partition key.
    pub partition_key: &'static str,
    /// Its string sort key, if any.
    pub sort_key: Option<&'static str>,
}

/// One event version a function declares it consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consumed {
    /// The EventBridge source.
    pub source: &'static str,
    /// The detail-type.
    pub detail_type: &'static str,
    /// The schema version.
    pub version: u32,
}

impl Consumed {
    /// Whether `raw` is this version of this event.
    pub fn matches(&self, raw: &herald::RawEvent) -> bool {
        raw.is(self.source, self.detail_type) && raw.schema_version().ok() == Some(self.version)
    }
}

/// One function: its name (folder = package = binary), its own tables, what it consumes.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    /// Folder, package and binary name.
    pub name: &'static str,
    /// Its domain tables (the idempotency table is shared by all).
    pub tables: &'static [TableSpec],
    /// The event versions it consumes, as declared.
    pub consumes: &'static [Consumed],
    /// Its queue and batches, when its rule reaches it through a queue (`buffer = { … }`).
    pub buffer: Option<herald_infra::declaration::Buffer>,
}

/// Every consumer the workspace declares (`[package.metadata.herald]` with `consumes`, read by
/// herald-infra), with its tables and what it consumes, in package-name order: never a list kept
/// by hand.
///
/// # Panics
/// On first use, when the declarations cannot be read: no test of the functions can run then,
/// and the message says why.
pub static FUNCTIONS: LazyLock<Vec<FunctionSpec>> = LazyLock::new(|| {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let declarations = herald_infra::consumers(&workspace)
        .unwrap_or_else(|error| panic!("the functions' declarations cannot be read: {error}"));
    declarations
        .into_iter()
        .map(|declaration| FunctionSpec {
            buffer: declaration.delivery.buffer().copied(),
            name: leak(declaration.name),
            consumes: Box::leak(
                declaration
                    .consumes
                    .into_iter()
                    .map(|event| Consumed {
                        source: leak(event.source),
                        detail_type: leak(event.detail_type),
                        version: event.version,
                    })
                    .collect(),
            ),
            tables: Box::leak(
                declaration
                    .tables
                    .into_iter()
                    .map(|table| TableSpec {
                        env: leak(table.env),
                        partition_key: leak(table.partition_key),
                        sort_key: table.sort_key.map(leak),
                    })
                    .collect(),
            ),
        })
        .collect()
});

/// Test data read once per test process lives as long as it: `'static`, as a literal list would.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Creates every function's tables and the shared idempotency table on moto, fresh names.
/// Returns the environment the functions read: variable → table name.
///
/// # Errors
/// Any SDK error from moto.
pub async fn create_all_tables(config: &SdkConfig) -> TestResult<BTreeMap<&'static str, String>> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut env = BTreeMap::from([("IDEMPOTENCY_TABLE", create_idempotency_table(&client).await?)]);
    for function in FUNCTIONS.iter() {
        for spec in function.tables {
            let prefix = spec.env.trim_end_matches("_TABLE").to_lowercase();
            env.insert(
                spec.env,
                create_table(&client, &prefix, spec.partition_key, spec.sort_key).await?,
            );
        }
    }
    Ok(env)
}
