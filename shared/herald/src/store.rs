//! What every function's own store needs, written once: [`Table`], a table of typed records
//! that answers the same in DynamoDB and in memory (conditional inserts, consistent reads,
//! queries, conditional updates); the backend a store was built for; the AWS SDK's errors kept
//! whole; a memory table's lock; and typed readers and writers of DynamoDB attributes.
//!
//! A function's store is one `store.rs`: its records (serde types, whose fields are the item's
//! attributes) and a struct of [`Table`]s built by [`Env::table`](crate::Env::table), whose
//! methods say the function's rules once for both backends. A store that needs what [`Table`]
//! does not offer (transactions across items, atomic counters) lays itself out as
//! `store.rs` with a [`Stored`] of `store/dynamodb.rs` and `store/memory.rs`, which keep the
//! same semantics on each backend.
//!
//! A record a function publishes events about keeps their ids in an [`Announced`] field, added
//! by [`Table::announce`] once the bus accepted them: a retry after a failed publish publishes
//! what is missing, and a late run of the same cause (after the guard's record expired, or a
//! `reprocess-…` replay) finds every event announced and publishes nothing.

mod table;

pub use table::{Change, Key, Table, TableError};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::publish::Outgoing;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A function's store on the backend it was built for ([`Env::store`](crate::Env::store)).
#[derive(Debug, Clone)]
pub enum Stored<D, M> {
    /// Its tables in DynamoDB.
    Dynamo(D),
    /// Its tables in this process's memory (`herald dev`).
    Memory(M),
}

/// An AWS SDK error, kept whole as the source of a function's store error: its message is the
/// SDK's with every cause ([`DisplayErrorContext`]), and [`std::error::Error::source`] still
/// reaches the SDK's own error.
pub struct SdkFailure(Box<dyn std::error::Error + Send + Sync>);

impl SdkFailure {
    /// Keeps `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}

impl fmt::Debug for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", DisplayErrorContext(&*self.0))
    }
}

impl std::error::Error for SdkFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The `event_id`s of the events published about a record, kept on it as the list attribute
/// [`Announced::ATTRIBUTE`] (absent until the first is added by [`Table::announce`]). A
/// function's events derive their ids from their cause
/// ([`Detail::caused_by_stable`](crate::Detail::caused_by_stable)), so a second run of the same
/// cause builds the same ids and [`Announced::unpublished`] drops the ones already on the bus.
///
/// In a record: `#[serde(default, skip_serializing_if = "Announced::is_empty")] pub announced: Announced`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Announced(BTreeSet<Uuid>);

impl Announced {
    /// The attribute the ids live in.
    pub const ATTRIBUTE: &'static str = "announced";

    /// Whether nothing was announced yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the event `event_id` was published.
    pub fn contains(&self, event_id: Uuid) -> bool {
        self.0.contains(&event_id)
    }

    /// `events` without those already published.
    pub fn unpublished(&self, events: Vec<Outgoing>) -> Vec<Outgoing> {
        events
            .into_iter()
            .filter(|event| !self.contains(event.event_id()))
            .collect()
    }

    /// Adds the ids of `events`, as [`Table::announce`] does to the stored list: for a store
    /// that keeps its records itself (in memory).
    pub fn add(&mut self, events: &[Outgoing]) {
        self.0.extend(events.iter().map(Outgoing::event_id));
    }

    /// The list as `item` holds it, for a store that reads its items itself: none when the
    /// attribute is absent.
    ///
    /// # Errors
    /// What is wrong, when the attribute is not a list of UUID strings.
    pub fn from_item(item: &Item) -> Result<Self, String> {
        let Some(value) = item.get(Self::ATTRIBUTE) else {
            return Ok(Self::default());
        };
        let list = value
            .as_l()
            .map_err(|_| format!("`{}` is not a list", Self::ATTRIBUTE))?;
        list.iter()
            .map(|id| {
                id.as_s()
                    .ok()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .ok_or_else(|| format!("`{}` holds {id:?}, not an event id", Self::ATTRIBUTE))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// A memory table's lock. Every write of a memory store is one insert or one update under the
/// lock, so a panic elsewhere while it was held leaves the tables consistent: a poisoned lock is
/// taken as it is.
pub fn lock<T>(tables: &Mutex<T>) -> MutexGuard<'_, T> {
    tables.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A string attribute, if the item has one by that name.
pub fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A number attribute read as `T`, if the item has one by that name and it fits.
pub fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

/// An RFC 3339 time attribute, in UTC.
pub fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A number attribute.
pub fn n(value: impl fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A time attribute: RFC 3339 in UTC at the instant's own precision, so it reads back exactly
/// and times of one precision sort as text.
pub fn timestamp(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_read_back_as_they_were_written_and_a_wrong_type_reads_as_absent() {
        // Given an item written with the writers
        let at = DateTime::parse_from_rfc3339("2026-11-02T10:14:59.987Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let item: Item = HashMap::from([
            ("sku".to_owned(), s("SKU-1")),
            ("units".to_owned(), n(42_u32)),
            ("at".to_owned(), timestamp(at)),
        ]);

        // When they are read back, then each is what was written, and a mismatch is absent
        assert_eq!(text(&item, "sku").as_deref(), Some("SKU-1"));
        assert_eq!(number::<u32>(&item, "units"), Some(42));
        assert_eq!(number::<u8>(&item, "sku"), None);
        assert_eq!(number::<u8>(&item, "missing"), None);
        assert_eq!(time(&item, "at"), Some(at));
        assert_eq!(text(&item, "units"), None);
    }

    #[test]
    fn an_sdk_failure_keeps_its_source_and_says_its_whole_context() {
        use std::error::Error as _;
        // Given an error with a cause
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let failure = SdkFailure::new(Outer(std::io::Error::other("connection refused")));

        // Then its message carries the cause, and its source is the SDK's error
        assert!(failure.to_string().contains("dispatch failure"), "{failure}");
        assert!(failure.to_string().contains("connection refused"), "{failure}");
        assert_eq!(
            failure.source().map(ToString::to_string).as_deref(),
            Some("dispatch failure")
        );
    }
}
