//! DynamoDB support: idempotency tables on moto, and an interceptor that counts calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::TestResult;
use crate::aws::unique;

/// Counts DynamoDB requests by operation (`PutItem`, `TransactWriteItems`, …), SDK retries included.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl CallCounter {
    /// Calls so far, by operation.
    pub fn by_operation(&self) -> BTreeMap<String, usize> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// All calls so far.
    pub fn total(&self) -> usize {
        self.by_operation().values().sum()
    }

    /// Forgets the calls so far.
    pub fn reset(&self) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.clear();
        }
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// A DynamoDB client on moto that counts its calls.
pub fn counted_client(config: &SdkConfig) -> (aws_sdk_dynamodb::Client, CallCounter) {
    let counter = CallCounter::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(counter.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(conf), counter)
}

/// Creates a fresh on-demand table named `<prefix>-<unique>` with a string partition key and an
/// optional string sort key. Returns its name.
///
/// # Errors
/// Any SDK error from moto.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    prefix: &str,
    partition_key: &str,
    sort_key: Option<&str>,
) -> TestResult<String> {
    let table = unique(prefix);
    let mut request = client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(partition_key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(partition_key)
                .key_type(KeyType::Hash)
                .build()?,
        );
    if let Some(sort_key) = sort_key {
        request = request
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(sort_key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(sort_key)
                    .key_type(KeyType::Range)
                    .build()?,
            );
    }
    request.send().await?;
    Ok(table)
}

/// Creates a fresh idempotency table as `infra/template.yaml` declares it: partition key `id`
/// (string), on-demand billing, TTL on `expires_at`. Returns its name.
///
/// # Errors
/// Any SDK error from moto.
pub async fn create_idempotency_table(client: &aws_sdk_dynamodb::Client) -> TestResult<String> {
    let table = unique("idempotency");
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await?;
    client
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()?,
        )
        .send()
        .await?;
    Ok(table)
}
