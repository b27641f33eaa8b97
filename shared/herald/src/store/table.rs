//! A table of typed records that answers the same in DynamoDB and in this process's memory: the
//! conditional writes and consistent reads a consumer's own store is made of, written once here
//! so that a function's store is written once too, over whichever backend [`Env`](crate::Env)
//! chose.
//!
//! Records are converted to and from DynamoDB items by `serde_dynamo` on both backends: the
//! memory table keeps the very items DynamoDB would hold, keyed and ordered as DynamoDB orders
//! them (partition key, then sort key, compared as UTF-8 bytes), so a record that would not read
//! back from DynamoDB does not read back from memory either. Every memory operation holds one
//! lock while it checks its condition and writes, so it is as conditional as the DynamoDB
//! request it stands for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Announced, Item, SdkFailure, lock};
use crate::Classify;
use crate::publish::Outgoing;

/// A table's primary key: the partition key's attribute and, for a composite key, the sort
/// key's. Key attributes are strings (`S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    partition: &'static str,
    sort: Option<&'static str>,
}

impl Key {
    /// A simple key: the partition key `attribute`.
    pub const fn partition(attribute: &'static str) -> Self {
        Self {
            partition: attribute,
            sort: None,
        }
    }

    /// This key with the sort key `attribute`.
    pub const fn sorted_by(self, attribute: &'static str) -> Self {
        Self {
            sort: Some(attribute),
            ..self
        }
    }

    /// The partition key's attribute.
    pub const fn partition_key(&self) -> &'static str {
        self.partition
    }

    /// The sort key's attribute, for a composite key.
    pub const fn sort_key(&self) -> Option<&'static str> {
        self.sort
    }
}

/// What went wrong with a table. Each says its table; an SDK failure keeps the SDK's error.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// DynamoDB failed after the SDK's retries. Retryable.
    #[error("DynamoDB {operation} on table {table} failed: {source}")]
    Sdk {
        /// The operation, e.g. `PutItem`.
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK's error, whole.
        #[source]
        source: SdkFailure,
    },
    /// An item does not read as the record type, or a record does not write as an item. Not
    /// retryable: the same item reads the same way.
    #[error("an item of table {table} is not a valid record: {source}")]
    Corrupt {
        /// The table.
        table: String,
        /// What `serde_dynamo` found.
        #[source]
        source: serde_dynamo::Error,
    },
    /// A record lacks a string key attribute. Not retryable.
    #[error("a record for table {table} has no string key attribute `{attribute}`")]
    NoKey {
        /// The table.
        table: String,
        /// The key attribute.
        attribute: &'static str,
    },
    /// An item that must stand is not there: a conditional write was refused by an item that a
    /// consistent read then did not find, or [`Table::announce`] found no record (it was deleted
    /// in between). Retryable: the next attempt reads the table again.
    #[error("{operation} on table {table} needs an item that is no longer there")]
    Vanished {
        /// The refused operation.
        operation: &'static str,
        /// The table.
        table: String,
    },
}

impl Classify for TableError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Sdk { .. } | Self::Vanished { .. })
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Sdk { .. } | Self::Vanished { .. } => "Store.Unavailable",
            Self::Corrupt { .. } | Self::NoKey { .. } => "Store.Corrupt",
        }
    }
}

/// What a conditional update found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    /// The condition held and the record changed.
    Done,
    /// The condition did not hold: the record as it stands, unchanged.
    Refused(T),
    /// No record has that key; nothing was written.
    Missing,
}

/// A table of records of the backend it was built for. Clones share the same table.
#[derive(Debug, Clone)]
pub struct Table {
    name: String,
    key: Key,
    place: Place,
}

#[derive(Debug, Clone)]
enum Place {
    Dynamo { client: Client, page_size: Option<i32> },
    Memory(Arc<Mutex<BTreeMap<(String, String), Item>>>),
}

/// A memory table's map key of an item: its partition and sort key values (empty without one).
type MapKey = (String, String);

impl Table {
    /// The DynamoDB table `name`, whose primary key is `key`.
    pub fn dynamo(client: Client, name: impl Into<String>, key: Key) -> Self {
        Self {
            name: name.into(),
            key,
            place: Place::Dynamo {
                client,
                page_size: None,
            },
        }
    }

    /// An empty table in this process's memory, named `name` in errors.
    pub fn memory(name: impl Into<String>, key: Key) -> Self {
        Self {
            name: name.into(),
            key,
            place: Place::Memory(Arc::default()),
        }
    }

    /// Reads at most `items` items per Query or Scan page (default: as many as fit in 1 MB), to
    /// bound one response's size; [`Table::query`] and [`Table::scan_where`] still read every
    /// page. A memory table has no pages.
    #[must_use]
    pub fn with_page_size(mut self, items: i32) -> Self {
        if let Place::Dynamo { page_size, .. } = &mut self.place {
            *page_size = Some(items);
        }
        self
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The record whose (partition) key is `partition`, read consistently.
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, or the item does not read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, partition: &str) -> Result<Option<T>, TableError> {
        let item = self.get_item(self.key_item(partition, None)).await?;
        item.map(|item| self.read(item)).transpose()
    }

    /// The record whose composite key is (`partition`, `sort`), read consistently.
    ///
    /// # Errors
    /// As [`Table::get`].
    pub async fn get_at<T: DeserializeOwned>(&self, partition: &str, sort: &str) -> Result<Option<T>, TableError> {
        let item = self.get_item(self.key_item(partition, Some(sort))).await?;
        item.map(|item| self.read(item)).transpose()
    }

    /// Writes `record` unless an item with its key exists: true when written now, false when
    /// one was there (which is left as it is).
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, or the record has no key.
    pub async fn insert<T: Serialize>(&self, record: &T) -> Result<bool, TableError> {
        let item = self.write(record)?;
        Ok(match &self.place {
            Place::Dynamo { client, .. } => self.put_new(client, item, false).await?.is_none(),
            Place::Memory(items) => {
                let key = self.map_key(&item)?;
                let mut items = lock(items);
                match items.get(&key) {
                    Some(_) => false,
                    None => items.insert(key, item).is_none(),
                }
            }
        })
    }

    /// Writes `record` unless an item with its key exists; returns that item's record when one
    /// was there (which is left as it is), `None` when `record` was written now.
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, the standing item does not read as `T`, or it vanished
    /// between the refusal and the read.
    pub async fn insert_or_get<T: Serialize + DeserializeOwned>(&self, record: &T) -> Result<Option<T>, TableError> {
        let item = self.write(record)?;
        let standing = match &self.place {
            Place::Dynamo { client, .. } => {
                let key = self.key_of(&item)?;
                match self.put_new(client, item, true).await? {
                    None => None,
                    Some(Some(old)) => Some(old),
                    // Refused, and the service did not hand the item back: read it.
                    Some(None) => Some(self.get_item(key).await?.ok_or_else(|| TableError::Vanished {
                        operation: "PutItem",
                        table: self.name.clone(),
                    })?),
                }
            }
            Place::Memory(items) => {
                let key = self.map_key(&item)?;
                let mut items = lock(items);
                match items.get(&key) {
                    Some(old) => Some(old.clone()),
                    None => {
                        items.insert(key, item);
                        None
                    }
                }
            }
        };
        standing.map(|item| self.read(item)).transpose()
    }

    /// Every record of the partition `partition`, in sort-key order: a consistent, ascending
    /// Query, page after page.
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, or an item does not read as `T`.
    pub async fn query<T: DeserializeOwned>(&self, partition: &str) -> Result<Vec<T>, TableError> {
        let items = match &self.place {
            Place::Dynamo { client, page_size } => {
                let request = client
                    .query()
                    .table_name(&self.name)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", self.key.partition)
                    .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
                    .consistent_read(true)
                    .scan_index_forward(true)
                    .set_limit(*page_size);
                self.every_page("Query", |start| {
                    let request = request.clone().set_exclusive_start_key(start);
                    async move { request.send().await.map(|page| (page.items, page.last_evaluated_key)) }
                })
                .await?
            }
            Place::Memory(items) => lock(items)
                .range((partition.to_owned(), String::new())..)
                .take_while(|((p, _), _)| p == partition)
                .map(|(_, item)| item.clone())
                .collect(),
        };
        items.into_iter().map(|item| self.read(item)).collect()
    }

    /// Every record whose string attribute `attribute` is `value`: a consistent Scan with that
    /// filter, page after page. A Scan reads the whole table: for small tables and rare reads.
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, or an item does not read as `T`.
    pub async fn scan_where<T: DeserializeOwned>(&self, attribute: &str, value: &str) -> Result<Vec<T>, TableError> {
        let wanted = AttributeValue::S(value.to_owned());
        let items = match &self.place {
            Place::Dynamo { client, page_size } => {
                let request = client
                    .scan()
                    .table_name(&self.name)
                    .filter_expression("#a = :v")
                    .expression_attribute_names("#a", attribute)
                    .expression_attribute_values(":v", wanted.clone())
                    .consistent_read(true)
                    .set_limit(*page_size);
                self.every_page("Scan", |start| {
                    let request = request.clone().set_exclusive_start_key(start);
                    async move { request.send().await.map(|page| (page.items, page.last_evaluated_key)) }
                })
                .await?
            }
            Place::Memory(items) => lock(items)
                .values()
                .filter(|item| item.get(attribute) == Some(&wanted))
                .cloned()
                .collect(),
        };
        items.into_iter().map(|item| self.read(item)).collect()
    }

    /// Every item of a paged read: `page(start)` sends one request from `start` and answers its
    /// items and its last evaluated key; pages are read until that key is absent or empty.
    async fn every_page<F, Fut, E>(&self, operation: &'static str, page: F) -> Result<Vec<Item>, TableError>
    where
        F: Fn(Option<Item>) -> Fut,
        Fut: std::future::Future<Output = Result<(Option<Vec<Item>>, Option<Item>), E>>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (page_items, next) = page(start.take()).await.map_err(|e| self.sdk(operation, e))?;
            items.extend(page_items.unwrap_or_default());
            match next.filter(|key| !key.is_empty()) {
                Some(key) => start = Some(key),
                None => return Ok(items),
            }
        }
    }

    /// Sets the attributes `set` on the record whose (partition) key is `partition`, if its
    /// string attribute `expected.0` is `expected.1`: one conditional UpdateItem. A refused
    /// update returns the record as it stands.
    ///
    /// # Errors
    /// [`TableError`]: DynamoDB failed, or the standing item does not read as `T`.
    pub async fn update_if<T: DeserializeOwned>(
        &self,
        partition: &str,
        expected: (&str, &str),
        set: &[(&str, AttributeValue)],
    ) -> Result<Change<T>, TableError> {
        let key = self.key_item(partition, None);
        let wanted = AttributeValue::S(expected.1.to_owned());
        let refused = match &self.place {
            Place::Dynamo { client, .. } => {
                let assignments: Vec<String> = (0..set.len()).map(|i| format!("#s{i} = :s{i}")).collect();
                let mut update = client
                    .update_item()
                    .table_name(&self.name)
                    .set_key(Some(key.clone()))
                    .condition_expression("#e = :e")
                    .expression_attribute_names("#e", expected.0)
                    .expression_attribute_values(":e", wanted)
                    .update_expression(format!("SET {}", assignments.join(", ")))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
                for (i, (name, value)) in set.iter().enumerate() {
                    update = update
                        .expression_attribute_names(format!("#s{i}"), *name)
                        .expression_attribute_values(format!(":s{i}"), value.clone());
                }
                match update.send().await {
                    Ok(_) => None,
                    Err(error) => match error.into_service_error() {
                        UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item {
                            Some(item) => Some(Some(item)),
                            // No old item: no record, or the service did not return it.
                            None => Some(self.get_item(key).await?),
                        },
                        other => return Err(self.sdk("UpdateItem", other)),
                    },
                }
            }
            Place::Memory(items) => {
                let mut items = lock(items);
                match items.get_mut(&(partition.to_owned(), String::new())) {
                    None => Some(None),
                    Some(item) if item.get(expected.0) != Some(&wanted) => Some(Some(item.clone())),
                    Some(item) => {
                        item.extend(set.iter().map(|(name, value)| ((*name).to_owned(), value.clone())));
                        None
                    }
                }
            }
        };
        Ok(match refused {
            None => Change::Done,
            Some(Some(item)) => Change::Refused(self.read(item)?),
            Some(None) => Change::Missing,
        })
    }

    /// Adds the ids of `events`, which the bus accepted, to the [`Announced`] list of the record
    /// whose key is (`partition`, `sort`): one UpdateItem appending to the list, conditional on
    /// the record's existence. Adding an id twice (a retry that failed after publishing) keeps
    /// it once when read back.
    ///
    /// # Errors
    /// [`TableError::Sdk`] when DynamoDB fails; [`TableError::Vanished`] when no record has the
    /// key (records a function announces about are written before their events are published).
    pub async fn announce(&self, partition: &str, sort: Option<&str>, events: &[Outgoing]) -> Result<(), TableError> {
        if events.is_empty() {
            return Ok(());
        }
        let ids: Vec<AttributeValue> = events
            .iter()
            .map(|event| AttributeValue::S(event.event_id().to_string()))
            .collect();
        let key = self.key_item(partition, sort);
        let vanished = || TableError::Vanished {
            operation: "UpdateItem",
            table: self.name.clone(),
        };
        match &self.place {
            Place::Dynamo { client, .. } => {
                let update = client
                    .update_item()
                    .table_name(&self.name)
                    .set_key(Some(key))
                    .condition_expression("attribute_exists(#pk)")
                    .update_expression("SET #a = list_append(if_not_exists(#a, :none), :ids)")
                    .expression_attribute_names("#pk", self.key.partition)
                    .expression_attribute_names("#a", Announced::ATTRIBUTE)
                    .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                    .expression_attribute_values(":ids", AttributeValue::L(ids));
                match update.send().await {
                    Ok(_) => Ok(()),
                    Err(error) => match error.into_service_error() {
                        UpdateItemError::ConditionalCheckFailedException(_) => Err(vanished()),
                        other => Err(self.sdk("UpdateItem", other)),
                    },
                }
            }
            Place::Memory(items) => {
                let key = self.map_key(&key)?;
                let mut items = lock(items);
                let item = items.get_mut(&key).ok_or_else(vanished)?;
                let list = item
                    .entry(Announced::ATTRIBUTE.to_owned())
                    .or_insert_with(|| AttributeValue::L(Vec::new()));
                match list {
                    AttributeValue::L(list) => {
                        list.extend(ids);
                        Ok(())
                    }
                    _ => Err(self.corrupt(serde::de::Error::custom("`announced` is not a list"))),
                }
            }
        }
    }

    /// PutItem conditional on the key's absence: `None` when written, `Some(old)` when refused
    /// (`old` the standing item, if asked for and handed back).
    async fn put_new(&self, client: &Client, item: Item, return_old: bool) -> Result<Option<Option<Item>>, TableError> {
        let mut put = client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", self.key.partition);
        if return_old {
            put = put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        match put.send().await {
            Ok(_) => Ok(None),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(refused) => Ok(Some(refused.item)),
                other => Err(self.sdk("PutItem", other)),
            },
        }
    }

    /// The item under `key`, read consistently.
    async fn get_item(&self, key: Item) -> Result<Option<Item>, TableError> {
        match &self.place {
            Place::Dynamo { client, .. } => client
                .get_item()
                .table_name(&self.name)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .map(|output| output.item)
                .map_err(|e| self.sdk("GetItem", e)),
            Place::Memory(items) => {
                let key = self.map_key(&key)?;
                Ok(lock(items).get(&key).cloned())
            }
        }
    }

    /// A key item of the given values.
    fn key_item(&self, partition: &str, sort: Option<&str>) -> Item {
        let mut key = Item::from([(self.key.partition.to_owned(), AttributeValue::S(partition.to_owned()))]);
        if let (Some(name), Some(value)) = (self.key.sort, sort) {
            key.insert(name.to_owned(), AttributeValue::S(value.to_owned()));
        }
        key
    }

    /// The key attributes of `item`.
    fn key_of(&self, item: &Item) -> Result<Item, TableError> {
        let (partition, sort) = self.map_key(item)?;
        Ok(self.key_item(&partition, self.key.sort.map(|_| sort.as_str())))
    }

    /// The memory map's key of `item`.
    fn map_key(&self, item: &Item) -> Result<MapKey, TableError> {
        let value = |attribute: &'static str| {
            item.get(attribute)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| TableError::NoKey {
                    table: self.name.clone(),
                    attribute,
                })
        };
        let sort = match self.key.sort {
            Some(attribute) => value(attribute)?,
            None => String::new(),
        };
        Ok((value(self.key.partition)?, sort))
    }

    fn read<T: DeserializeOwned>(&self, item: Item) -> Result<T, TableError> {
        serde_dynamo::from_item(item).map_err(|source| self.corrupt(source))
    }

    fn write<T: Serialize>(&self, record: &T) -> Result<Item, TableError> {
        let item: Item = serde_dynamo::to_item(record).map_err(|source| self.corrupt(source))?;
        self.map_key(&item)?;
        Ok(item)
    }

    fn corrupt(&self, source: serde_dynamo::Error) -> TableError {
        TableError::Corrupt {
            table: self.name.clone(),
            source,
        }
    }

    fn sdk(&self, operation: &'static str, error: impl std::error::Error + Send + Sync + 'static) -> TableError {
        TableError::Sdk {
            operation,
            table: self.name.clone(),
            source: SdkFailure::new(error),
        }
    }
}
