//! The seven domain functions as the end-to-end tests deploy them on moto: each one's tables
//! (environment variable, partition key, sort key) and whether it publishes to the bus.

use std::collections::BTreeMap;

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

/// One function: its name (folder = package = binary) and its own tables.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    /// Folder, package and binary name.
    pub name: &'static str,
    /// Its domain tables (the idempotency table is shared by all).
    pub tables: &'static [TableSpec],
}

const fn table(env: &'static str, partition_key: &'static str, sort_key: Option<&'static str>) -> TableSpec {
    TableSpec {
        env,
        partition_key,
        sort_key,
    }
}

/// Every function.
pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: "inventory",
        tables: &[
            table("STOCK_TABLE", "sku", None),
            table("RESERVATIONS_TABLE", "order_id", None),
        ],
    },
    FunctionSpec {
        name: "fulfillment",
        tables: &[table("SHIPMENTS_TABLE", "order_id", None)],
    },
    FunctionSpec {
        name: "notifications",
        tables: &[table("OUTBOX_TABLE", "message_id", None)],
    },
    FunctionSpec {
        name: "order-history",
        tables: &[table("HISTORY_TABLE", "customer_id", Some("entry"))],
    },
    FunctionSpec {
        name: "campaigns",
        tables: &[
            table("CAMPAIGN_ORDERS_TABLE", "customer_id", Some("order_id")),
            table("VOUCHERS_TABLE", "qualifying_order_id", None),
        ],
    },
    FunctionSpec {
        name: "contracts",
        tables: &[table("CONTRACTS_TABLE", "order_id", Some("contract_id"))],
    },
    FunctionSpec {
        name: "billing",
        tables: &[
            table("BILLING_ORDERS_TABLE", "order_id", None),
            table("INVOICES_TABLE", "order_id", None),
        ],
    },
];

/// Creates every function's tables and the shared idempotency table on moto, fresh names.
/// Returns the environment the functions read: variable → table name.
///
/// # Errors
/// Any SDK error from moto.
pub async fn create_all_tables(config: &SdkConfig) -> TestResult<BTreeMap<&'static str, String>> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut env = BTreeMap::from([("IDEMPOTENCY_TABLE", create_idempotency_table(&client).await?)]);
    for function in FUNCTIONS {
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
