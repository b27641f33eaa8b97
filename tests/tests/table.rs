//! `herald::store::Table`, the table every function's store is made of: each behaviour written
//! once and run on both backends (memory, as under `herald dev`, and DynamoDB on moto), so the
//! two answer alike by test, not by hope.

use herald::store::{Announced, Change, Key, Table, TableError, s};
use herald::{Classify, Detail, Metadata, Outgoing};
use herald_tests::TestResult;
use herald_tests::world::{Harness, Stores, on_every_backend};
use serde::{Deserialize, Serialize};

const BY_ORDER: Key = Key::partition("order_id");
const BY_CUSTOMER: Key = Key::partition("customer_id").sorted_by("entry");

/// A record keyed by order, with a status a conditional update moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Shipment {
    order_id: String,
    status: String,
    units: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelled_by: Option<String>,
}

fn shipment(order_id: &str, status: &str, units: u32) -> Shipment {
    Shipment {
        order_id: order_id.to_owned(),
        status: status.to_owned(),
        units,
        cancelled_by: None,
    }
}

/// A record of a composite key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    customer_id: String,
    entry: String,
    to: String,
}

fn entry(customer_id: &str, entry: &str, to: &str) -> Entry {
    Entry {
        customer_id: customer_id.to_owned(),
        entry: entry.to_owned(),
        to: to.to_owned(),
    }
}

async fn table(stores: Stores, key: Key) -> TestResult<Table> {
    Harness::new().await.fresh_table(stores, key).await
}

#[tokio::test]
async fn a_record_is_written_once_and_a_second_write_of_its_key_hands_back_the_first() -> TestResult {
    on_every_backend(async |stores| {
        // Given an empty table
        let table = table(stores, BY_ORDER).await?;
        let first = shipment("ord-1", "REQUESTED", 3);
        let second = shipment("ord-1", "CANCELLED", 9);

        // When the same key is written three times
        let inserted = [table.insert(&first).await?, table.insert(&second).await?];
        let standing = table.insert_or_get(&second).await?;

        // Then only the first write landed, and the refused one hands the first back
        assert_eq!(inserted, [true, false]);
        assert_eq!(standing, Some(first.clone()));
        assert_eq!(table.get::<Shipment>("ord-1").await?, Some(first));
        assert_eq!(table.get::<Shipment>("ord-2").await?, None);
        assert_eq!(table.insert_or_get(&shipment("ord-2", "REQUESTED", 1)).await?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_partition_reads_whole_in_sort_key_order_whatever_the_page_size() -> TestResult {
    on_every_backend(async |stores| {
        // Given a composite-key table read two items per page, written out of order
        let table = table(stores, BY_CUSTOMER).await?.with_page_size(2);
        for at in ["2026-11-03", "2026-11-01", "2026-11-05", "2026-11-02", "2026-11-04"] {
            table.insert(&entry("cus-1", at, "ada@example.com")).await?;
        }
        table.insert(&entry("cus-2", "2026-11-01", "bob@example.com")).await?;

        // When cus-1's partition is queried
        let read: Vec<Entry> = table.query("cus-1").await?;

        // Then all five come back in sort-key order, and none of cus-2's
        let keys: Vec<&str> = read.iter().map(|e| e.entry.as_str()).collect();
        assert_eq!(
            keys,
            ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
        );
        assert_eq!(
            table.get_at::<Entry>("cus-2", "2026-11-01").await?,
            Some(entry("cus-2", "2026-11-01", "bob@example.com"))
        );
        assert!(table.query::<Entry>("cus-3").await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_scan_finds_every_record_whose_attribute_has_the_value() -> TestResult {
    on_every_backend(async |stores| {
        // Given three entries, two of them to ada, read one item per page
        let table = table(stores, BY_CUSTOMER).await?.with_page_size(1);
        table.insert(&entry("cus-1", "a", "ada@example.com")).await?;
        table.insert(&entry("cus-2", "b", "bob@example.com")).await?;
        table.insert(&entry("cus-1", "c", "ada@example.com")).await?;

        // When the table is scanned for ada's address
        let mut found: Vec<Entry> = table.scan_where("to", "ada@example.com").await?;
        found.sort_by(|a, b| a.entry.cmp(&b.entry));

        // Then both of hers are found, and only those
        assert_eq!(
            found,
            [
                entry("cus-1", "a", "ada@example.com"),
                entry("cus-1", "c", "ada@example.com")
            ]
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_conditional_update_changes_a_record_only_in_the_expected_state() -> TestResult {
    on_every_backend(async |stores| {
        // Given a REQUESTED shipment
        let table = table(stores, BY_ORDER).await?;
        table.insert(&shipment("ord-1", "REQUESTED", 3)).await?;
        let cancel = [("status", s("CANCELLED")), ("cancelled_by", s("evt-9"))];

        // When it is cancelled if REQUESTED, twice, and an absent order likewise
        let first: Change<Shipment> = table.update_if("ord-1", ("status", "REQUESTED"), &cancel).await?;
        let second: Change<Shipment> = table.update_if("ord-1", ("status", "REQUESTED"), &cancel).await?;
        let absent: Change<Shipment> = table.update_if("ord-2", ("status", "REQUESTED"), &cancel).await?;

        // Then the first changed it, the second was refused with the record as it stands, and
        // the absent order is missing (and still absent)
        let cancelled = Shipment {
            status: "CANCELLED".to_owned(),
            cancelled_by: Some("evt-9".to_owned()),
            ..shipment("ord-1", "", 3)
        };
        assert_eq!(first, Change::Done);
        assert_eq!(second, Change::Refused(cancelled.clone()));
        assert_eq!(absent, Change::Missing);
        assert_eq!(table.get::<Shipment>("ord-1").await?, Some(cancelled));
        assert_eq!(table.get::<Shipment>("ord-2").await?, None);
        Ok(())
    })
    .await
}

/// A record that keeps the ids of the events published about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Invoice {
    order_id: String,
    #[serde(default, skip_serializing_if = "Announced::is_empty")]
    announced: Announced,
}

/// An event about `order_id`, its id derived from the cause `cause` as a function's are.
fn event_about(order_id: &str, cause: u128) -> TestResult<Outgoing> {
    let cause = Metadata {
        event_id: uuid::Uuid::from_u128(cause),
        schema_version: 1,
        correlation_id: uuid::Uuid::from_u128(cause),
        causation_id: None,
        occurred_at: "2026-11-02T10:15:00Z".parse()?,
        producer: "orders".to_owned(),
        redrive: None,
    };
    let data = shop_events::VoucherIssuedV1 {
        voucher_id: "vch-1".to_owned(),
        customer_id: "cus-1".to_owned(),
        qualifying_order_id: order_id.to_owned(),
        rule: shop_events::VoucherRule::ThirdOrder,
        value_minor: 500,
        currency: "EUR".to_owned(),
        valid_until: "2027-01-30T09:00:00Z".parse()?,
    };
    Ok(Outgoing::new(&Detail::caused_by_stable(&cause, "", data, "tests"))?)
}

#[tokio::test]
async fn announced_events_are_kept_on_their_record_once_and_only_on_a_record_that_exists() -> TestResult {
    on_every_backend(async |stores| {
        // Given an invoice with nothing announced, and two events about it
        let table = table(stores, BY_ORDER).await?;
        let invoice = Invoice {
            order_id: "ord-1".to_owned(),
            announced: Announced::default(),
        };
        table.insert(&invoice).await?;
        let (first, second) = (event_about("ord-1", 1)?, event_about("ord-1", 2)?);

        // When the first is announced twice (a retry that failed after publishing), then the second
        table.announce("ord-1", None, std::slice::from_ref(&first)).await?;
        table.announce("ord-1", None, std::slice::from_ref(&first)).await?;
        table.announce("ord-1", None, std::slice::from_ref(&second)).await?;
        let missing = table.announce("ord-2", None, std::slice::from_ref(&first)).await;

        // Then the record holds both ids, and a second run of either cause finds nothing to publish
        let stored: Invoice = table.get("ord-1").await?.ok_or("no invoice")?;
        assert!(stored.announced.contains(first.event_id()) && stored.announced.contains(second.event_id()));
        let third = event_about("ord-1", 3)?;
        let again = stored.announced.unpublished(vec![first, second, third.clone()]);
        assert_eq!(
            again.iter().map(Outgoing::event_id).collect::<Vec<_>>(),
            [third.event_id()]
        );
        // And announcing about a record that does not exist writes nothing and is retryable
        assert!(matches!(missing, Err(TableError::Vanished { .. })), "{missing:?}");
        assert!(missing.as_ref().is_err_and(Classify::is_retryable));
        assert_eq!(table.get::<Invoice>("ord-2").await?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_item_that_does_not_read_as_the_record_is_a_corrupt_error_that_is_never_retried() -> TestResult {
    on_every_backend(async |stores| {
        // Given an item whose `units` is text, as another deploy might have written it
        #[derive(Serialize)]
        struct Older<'a> {
            order_id: &'a str,
            status: &'a str,
            units: &'a str,
        }
        let table = table(stores, BY_ORDER).await?;
        table
            .insert(&Older {
                order_id: "ord-1",
                status: "REQUESTED",
                units: "three",
            })
            .await?;

        // When it is read as a shipment, and when a shipment collides with it
        let read = table
            .get::<Shipment>("ord-1")
            .await
            .err()
            .ok_or("a corrupt item read")?;
        let collided = table
            .insert_or_get(&shipment("ord-1", "REQUESTED", 3))
            .await
            .err()
            .ok_or("a corrupt item handed back")?;

        // Then both are corrupt-record errors naming the table, not retryable
        for error in [read, collided] {
            assert!(matches!(error, TableError::Corrupt { .. }), "{error:?}");
            assert!(!error.is_retryable(), "{error}");
            assert!(error.to_string().contains(table.name()), "{error}");
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_record_without_its_key_is_refused_before_anything_is_written() -> TestResult {
    on_every_backend(async |stores| {
        // Given a record that lacks the table's sort key
        #[derive(Serialize)]
        struct Keyless<'a> {
            customer_id: &'a str,
        }
        let table = table(stores, BY_CUSTOMER).await?;

        // When it is written
        let error = table
            .insert(&Keyless { customer_id: "cus-1" })
            .await
            .err()
            .ok_or("a keyless record written")?;

        // Then it is refused naming the key, not retryable, and nothing is in the partition
        assert!(
            matches!(error, TableError::NoKey { attribute: "entry", .. }),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert!(table.query::<Entry>("cus-1").await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_dynamodb_failure_is_retryable_and_keeps_the_sdk_error() -> TestResult {
    // Given a table in a DynamoDB that refuses every connection
    let client = aws_sdk_dynamodb::Client::new(&herald_tests::aws::unreachable_config());
    let table = Table::dynamo(client, "orders", BY_ORDER);

    // When a record is read
    let error = table.get::<Shipment>("ord-1").await.err().ok_or("read from nowhere")?;

    // Then it is a retryable failure naming the call and the table, over the SDK's error
    assert!(
        matches!(&error, TableError::Sdk { operation: "GetItem", table, .. } if table == "orders"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    let sdk = std::error::Error::source(&error)
        .and_then(std::error::Error::source)
        .ok_or("no SDK error under the table error")?;
    assert!(sdk.is::<aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>>());
    Ok(())
}
