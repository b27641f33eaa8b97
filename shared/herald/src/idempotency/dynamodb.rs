//! The DynamoDB [`Store`]: every claim, completion and release is one conditional write.
//!
//! - A claim is one `PutItem` whose condition admits no record, an expired one
//!   (`expires_at < :now`, because TTL deletes lazily) or an INPROGRESS one whose lease passed;
//!   `ReturnValuesOnConditionCheckFailure = ALL_OLD` returns the live record on conflict, so a
//!   duplicate costs one call and no read.
//! - Completion and failure are one `UpdateItem`, release one `DeleteItem`, each conditional on
//!   the claim's token.
//! - A batch claims with one `TransactWriteItems`; when it is cancelled, the per-item
//!   `CancellationReasons` tell duplicates (with their records) from fresh records, which are
//!   claimed in one more transaction.
//!
//! Throttling, 5xx and timeouts are retried by the SDK per the client's retry configuration
//! (standard mode, 3 attempts by default; set it on the client). An error that survives those
//! retries becomes [`StoreError::Backend`].

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update as DynamoUpdate,
};

use super::config::AttributeNames;
use super::record::{ClaimCondition, Record, Status};
use super::store::{Claim, Store, StoreError, Update};

type Item = HashMap<String, AttributeValue>;

/// A condition (and for updates the update) with its placeholders.
struct Expression {
    update: Option<&'static str>,
    condition: &'static str,
    names: HashMap<String, String>,
    values: Item,
}

fn status_value(status: Status) -> AttributeValue {
    AttributeValue::S(status.as_str().to_owned())
}

/// Transactions are retried this many times when cancelled for reasons other than a condition.
const TRANSACTION_ROUNDS: usize = 3;

/// Idempotency records in a DynamoDB table keyed by a string partition key.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    names: Arc<AttributeNames>,
}

impl DynamoStore {
    /// A store over `table`, with the default attribute names.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with_attributes(client, table, AttributeNames::default())
    }

    /// A store over `table` with custom attribute names.
    pub fn with_attributes(client: Client, table: impl Into<String>, names: AttributeNames) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
            names: Arc::new(names),
        }
    }

    fn key_of(&self, key: &str) -> Item {
        HashMap::from([(self.names.key.clone(), AttributeValue::S(key.to_owned()))])
    }

    fn to_item(&self, record: &Record) -> Item {
        let n = &self.names;
        let mut item = HashMap::from([
            (n.key.clone(), AttributeValue::S(record.key.clone())),
            (n.status.clone(), AttributeValue::S(record.status.as_str().to_owned())),
            (n.claim_token.clone(), AttributeValue::S(record.claim_token.clone())),
            (n.payload_hash.clone(), AttributeValue::S(record.payload_hash.clone())),
            (n.expires_at.clone(), AttributeValue::N(record.expires_at.to_string())),
            (n.lease_until.clone(), AttributeValue::N(record.lease_until.to_string())),
        ]);
        if let Some(result) = &record.result {
            item.insert(n.result.clone(), AttributeValue::S(result.clone()));
        }
        if let Some(error) = &record.error {
            item.insert(n.error.clone(), AttributeValue::S(error.clone()));
        }
        item
    }

    fn record_from(&self, item: &Item) -> Result<Record, StoreError> {
        let n = &self.names;
        let key = item
            .get(&n.key)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let corrupt = |reason: String| StoreError::Corrupt {
            key: key.clone(),
            reason,
        };
        let text = |name: &str| -> Result<String, StoreError> {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| corrupt(format!("attribute `{name}` is missing or not a string")))
        };
        let number = |name: &str| -> Result<i64, StoreError> {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt(format!("attribute `{name}` is missing or not an integer")))
        };
        let optional = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let status_text = text(&n.status)?;
        Ok(Record {
            status: Status::parse(&status_text).ok_or_else(|| corrupt(format!("unknown status `{status_text}`")))?,
            claim_token: text(&n.claim_token)?,
            payload_hash: text(&n.payload_hash)?,
            expires_at: number(&n.expires_at)?,
            lease_until: number(&n.lease_until)?,
            result: optional(&n.result),
            error: optional(&n.error),
            key: key.clone(),
        })
    }

    /// The condition of a claim (see the module docs).
    fn claim_expression(&self, condition: &ClaimCondition) -> Expression {
        // Any claimable record: none, an expired one, or an INPROGRESS one whose lease passed.
        macro_rules! claimable {
            () => {
                "attribute_not_exists(#key) OR #expires_at < :now_s OR (#status = :in_progress AND #lease_until < :now_ms)"
            };
        }
        let n = &self.names;
        let text = match (condition.replace_failed, condition.replace_completed) {
            (false, false) => claimable!(),
            (true, false) => concat!(claimable!(), " OR #status = :failed"),
            (false, true) => concat!(claimable!(), " OR #status = :completed"),
            (true, true) => concat!(claimable!(), " OR #status = :failed OR #status = :completed"),
        };
        let mut values = HashMap::with_capacity(5);
        values.insert(
            ":now_s".to_owned(),
            AttributeValue::N(condition.now_ms.div_euclid(1000).to_string()),
        );
        values.insert(":now_ms".to_owned(), AttributeValue::N(condition.now_ms.to_string()));
        values.insert(":in_progress".to_owned(), status_value(Status::InProgress));
        if condition.replace_failed {
            values.insert(":failed".to_owned(), status_value(Status::Failed));
        }
        if condition.replace_completed {
            values.insert(":completed".to_owned(), status_value(Status::Completed));
        }
        let names = HashMap::from([
            ("#key".to_owned(), n.key.clone()),
            ("#expires_at".to_owned(), n.expires_at.clone()),
            ("#status".to_owned(), n.status.clone()),
            ("#lease_until".to_owned(), n.lease_until.clone()),
        ]);
        Expression {
            update: None,
            condition: text,
            names,
            values,
        }
    }

    /// The update that turns a held claim into `record`, conditional on the claim's token.
    fn finish_expression(&self, record: &Record) -> Expression {
        let n = &self.names;
        let update = match (&record.result, &record.error) {
            (Some(_), Some(_)) => {
                "SET #status = :status, #expires_at = :expires_at, #result = :result, #error = :error"
            }
            (Some(_), None) => "SET #status = :status, #expires_at = :expires_at, #result = :result REMOVE #error",
            (None, Some(_)) => "SET #status = :status, #expires_at = :expires_at, #error = :error REMOVE #result",
            (None, None) => "SET #status = :status, #expires_at = :expires_at REMOVE #result, #error",
        };
        let names = HashMap::from([
            ("#status".to_owned(), n.status.clone()),
            ("#claim_token".to_owned(), n.claim_token.clone()),
            ("#expires_at".to_owned(), n.expires_at.clone()),
            ("#result".to_owned(), n.result.clone()),
            ("#error".to_owned(), n.error.clone()),
        ]);
        let mut values = HashMap::with_capacity(6);
        values.insert(":status".to_owned(), status_value(record.status));
        values.insert(":token".to_owned(), AttributeValue::S(record.claim_token.clone()));
        values.insert(
            ":expires_at".to_owned(),
            AttributeValue::N(record.expires_at.to_string()),
        );
        values.insert(":in_progress".to_owned(), status_value(Status::InProgress));
        if let Some(result) = &record.result {
            values.insert(":result".to_owned(), AttributeValue::S(result.clone()));
        }
        if let Some(error) = &record.error {
            values.insert(":error".to_owned(), AttributeValue::S(error.clone()));
        }
        Expression {
            update: Some(update),
            condition: "#status = :in_progress AND #claim_token = :token",
            names,
            values,
        }
    }

    fn backend(operation: &'static str, key: &str, error: impl std::error::Error) -> StoreError {
        StoreError::Backend {
            operation,
            key: key.to_owned(),
            message: DisplayErrorContext(error).to_string(),
        }
    }

    fn lost(&self, item: Option<&Item>) -> Result<Update, StoreError> {
        Ok(Update::Lost(item.map(|i| self.record_from(i)).transpose()?))
    }

    /// One transaction of claims; returns per record `Some(claim)` or `None` to try again.
    async fn try_claim_transaction(
        &self,
        claims: &[&(Record, ClaimCondition)],
    ) -> Result<Vec<Option<Claim>>, StoreError> {
        let first_key = claims.first().map(|(r, _)| r.key.as_str()).unwrap_or_default();
        let items = claims
            .iter()
            .map(|(r, condition)| {
                let e = self.claim_expression(condition);
                Put::builder()
                    .table_name(self.table.as_ref())
                    .set_item(Some(self.to_item(r)))
                    .condition_expression(e.condition)
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| Self::backend("TransactWriteItems", &r.key, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(claims.iter().map(|_| Some(Claim::Claimed { replaced: None })).collect()),
            Err(error) => match error.into_service_error() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let mut answers = Vec::with_capacity(claims.len());
                    for (i, (record, condition)) in claims.iter().enumerate() {
                        let reason = reasons.get(i);
                        let claim = match reason.and_then(|r| r.code()) {
                            Some("ConditionalCheckFailed") => match reason.and_then(|r| r.item()) {
                                Some(item) => Some(Claim::Conflict(self.record_from(item)?)),
                                // Some backends omit the item: read it (rare, costs one call).
                                None => match self.get(&record.key).await? {
                                    Some(existing) if !existing.is_claimable(condition) => {
                                        Some(Claim::Conflict(existing))
                                    }
                                    _ => None,
                                },
                            },
                            _ => None,
                        };
                        answers.push(claim);
                    }
                    Ok(answers)
                }
                other => Err(Self::backend("TransactWriteItems", first_key, other)),
            },
        }
    }
}

impl Store for DynamoStore {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(self.key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Self::backend("GetItem", key, e))?;
        output.item().map(|item| self.record_from(item)).transpose()
    }

    async fn put(&self, record: &Record, condition: &ClaimCondition) -> Result<Claim, StoreError> {
        let e = self.claim_expression(condition);
        let result = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(self.to_item(record)))
            .condition_expression(e.condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Claim::Claimed {
                replaced: output.attributes().map(|item| self.record_from(item)).transpose()?,
            }),
            Err(error) => match error.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(conflict) => {
                    match conflict.item() {
                        Some(item) => Ok(Claim::Conflict(self.record_from(item)?)),
                        None => match self.get(&record.key).await? {
                            Some(existing) => Ok(Claim::Conflict(existing)),
                            None => Err(StoreError::Corrupt {
                                key: record.key.clone(),
                                reason: "condition failed but no record exists".to_owned(),
                            }),
                        },
                    }
                }
                other => Err(Self::backend("PutItem", &record.key, other)),
            },
        }
    }

    async fn update(&self, record: &Record) -> Result<Update, StoreError> {
        let e = self.finish_expression(record);
        let result = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(self.key_of(&record.key)))
            .set_update_expression(e.update.map(str::to_owned))
            .condition_expression(e.condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Update::Done),
            Err(error) => match error.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(lost) => {
                    self.lost(lost.item())
                }
                other => Err(Self::backend("UpdateItem", &record.key, other)),
            },
        }
    }

    async fn delete(&self, key: &str, claim_token: &str) -> Result<Update, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table.as_ref())
            .set_key(Some(self.key_of(key)))
            .condition_expression("#status = :in_progress AND #claim_token = :token")
            .expression_attribute_names("#status", &self.names.status)
            .expression_attribute_names("#claim_token", &self.names.claim_token)
            .expression_attribute_values(":in_progress", status_value(Status::InProgress))
            .expression_attribute_values(":token", AttributeValue::S(claim_token.to_owned()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Update::Done),
            Err(error) => match error.into_service_error() {
                aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(lost) => {
                    self.lost(lost.item())
                }
                other => Err(Self::backend("DeleteItem", key, other)),
            },
        }
    }

    async fn put_batch(&self, claims: &[(Record, ClaimCondition)]) -> Result<Vec<Claim>, StoreError> {
        let mut answers: Vec<Option<Claim>> = vec![None; claims.len()];
        for _ in 0..TRANSACTION_ROUNDS {
            let open: Vec<usize> = (0..claims.len()).filter(|i| answers[*i].is_none()).collect();
            if open.is_empty() {
                break;
            }
            let batch: Vec<&(Record, ClaimCondition)> = open.iter().map(|i| &claims[*i]).collect();
            for (i, claim) in open.iter().zip(self.try_claim_transaction(&batch).await?) {
                answers[*i] = claim;
            }
        }
        answers
            .into_iter()
            .zip(claims)
            .map(|(claim, (record, _))| {
                claim.ok_or_else(|| StoreError::Backend {
                    operation: "TransactWriteItems",
                    key: record.key.clone(),
                    message: format!("claim still cancelled after {TRANSACTION_ROUNDS} transactions"),
                })
            })
            .collect()
    }

    async fn update_batch(&self, records: &[Record]) -> Result<Vec<Update>, StoreError> {
        if records.len() < 2 {
            let mut updates = Vec::new();
            for record in records {
                updates.push(self.update(record).await?);
            }
            return Ok(updates);
        }
        let items = records
            .iter()
            .map(|r| {
                let e = self.finish_expression(r);
                DynamoUpdate::builder()
                    .table_name(self.table.as_ref())
                    .set_key(Some(self.key_of(&r.key)))
                    .set_update_expression(e.update.map(str::to_owned))
                    .condition_expression(e.condition)
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map(|update| TransactWriteItem::builder().update(update).build())
                    .map_err(|e| Self::backend("TransactWriteItems", &r.key, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(records.iter().map(|_| Update::Done).collect()),
            Err(error) => match error.into_service_error() {
                // One lost claim cancels the whole transaction: settle each record on its own.
                TransactWriteItemsError::TransactionCanceledException(_) => {
                    let mut updates = Vec::with_capacity(records.len());
                    for record in records {
                        updates.push(self.update(record).await?);
                    }
                    Ok(updates)
                }
                other => Err(Self::backend(
                    "TransactWriteItems",
                    records.first().map(|r| r.key.as_str()).unwrap_or_default(),
                    other,
                )),
            },
        }
    }
}
