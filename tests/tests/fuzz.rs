//! The decoder and every function's handler under generated events (proptest): each event is a
//! catalogued sample with a few changes a producer, a broken proxy or an attacker could make —
//! a field removed or replaced by any JSON value (numbers at the edges of their types, long and
//! non-ASCII strings, dates at the edges of the calendar, nested lists and objects), an unknown
//! schema version, another detail-type, another source. Whatever arrives:
//!
//! - nothing panics, in decoding or in any handler (in memory, with AWS unreachable, as under a
//!   test: a publish fails, retryably);
//! - every refusal of the event itself (an envelope error) is typed, not retryable (it goes
//!   straight to the dead-letter queue) and names the event's id when it has a readable one;
//! - every handler failure carries an error type.
//!
//! `make test` runs [`DEFAULT_CASES`] events per property; `HERALD_FUZZ_CASES` sets the count
//! (`make fuzz` runs a million through the decoder of every function).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald::envelope::EventSet;
use herald::function::Handler;
use herald::{Classify, Consumer, ConsumerError, Env, Function, RawEvent};
use herald_tests::aws::unreachable_config;
use herald_tests::fixtures::catalog_samples;
use herald_tests::functions::FUNCTIONS;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

/// Events per property when `HERALD_FUZZ_CASES` is unset.
const DEFAULT_CASES: u32 = 1_000;

fn cases() -> u32 {
    std::env::var("HERALD_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Every Herald sample of the catalog (AWS's own events carry no Herald envelope), with the
/// JSON pointer of every value in it.
static SAMPLES: LazyLock<Vec<(Value, Vec<String>)>> = LazyLock::new(|| {
    let samples = catalog_samples().unwrap_or_else(|error| panic!("the catalog's samples: {error}"));
    samples
        .into_iter()
        .map(|(_, raw)| raw.as_value().clone())
        .filter(|sample| !sample["source"].as_str().is_some_and(|s| s.starts_with("aws.")))
        .map(|sample| {
            let mut pointers = Vec::new();
            collect_pointers(&sample, String::new(), &mut pointers);
            (sample, pointers)
        })
        .collect()
});

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(entries) => {
            for (key, child) in entries {
                let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(here.clone());
                collect_pointers(child, here, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let here = format!("{at}/{i}");
                out.push(here.clone());
                collect_pointers(child, here, out);
            }
        }
        _ => {}
    }
}

/// Any JSON value, leaning towards the edges: extreme numbers, dates at the calendar's ends,
/// long or non-ASCII strings, empty and nested containers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::num::f64::NORMAL.prop_map(Value::from),
        prop_oneof![
            Just(0_i64),
            Just(-1),
            Just(i64::from(u32::MAX) + 1),
            Just(i64::MIN),
            Just(i64::MAX)
        ]
        .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        prop_oneof![
            Just("-262143-01-01T00:00:00Z"),
            Just("+262142-12-31T23:59:59Z"),
            Just("2026-02-30T10:00:00Z"),
            Just("1970-01-01T00:00:00Z"),
            Just(""),
            Just("00000000-0000-0000-0000-000000000000"),
        ]
        .prop_map(Value::from),
        (1_usize..5_000).prop_map(|n| Value::from("x".repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// One change to a sample.
#[derive(Debug, Clone)]
enum Change {
    /// Remove the value at the `n`th pointer (modulo their count).
    Remove(usize),
    /// Replace the value at the `n`th pointer.
    Replace(usize, Value),
    /// Another schema version.
    Version(i64),
    /// Another detail-type, one of the catalog's or not.
    DetailType(String),
    /// Another source.
    Source(String),
}

fn change() -> impl Strategy<Value = Change> {
    let names = prop_oneof![
        Just("OrderPlaced".to_owned()),
        Just("OrderCancelled".to_owned()),
        Just("OrderReturned".to_owned()),
        Just("PaymentCaptured".to_owned()),
        Just("StockReserved".to_owned()),
        Just("ContractCancelled".to_owned()),
        "\\PC{0,12}",
    ];
    let sources = prop_oneof![
        Just("shop.orders".to_owned()),
        Just("shop.payments".to_owned()),
        Just("shop.inventory".to_owned()),
        Just("shop.contracts".to_owned()),
        "\\PC{0,12}",
    ];
    prop_oneof![
        3 => any::<usize>().prop_map(Change::Remove),
        6 => (any::<usize>(), any_json()).prop_map(|(at, value)| Change::Replace(at, value)),
        1 => prop_oneof![Just(0_i64), Just(1), Just(2), Just(3), any::<i64>()].prop_map(Change::Version),
        1 => names.prop_map(Change::DetailType),
        1 => sources.prop_map(Change::Source),
    ]
}

/// A catalogued sample with up to four changes.
fn event() -> impl Strategy<Value = Value> {
    (any::<usize>(), prop::collection::vec(change(), 0..4)).prop_map(|(pick, changes)| {
        let (sample, pointers) = &SAMPLES[pick % SAMPLES.len()];
        let mut event = sample.clone();
        for change in changes {
            let at = |n: usize| pointers.get(n % pointers.len().max(1)).cloned().unwrap_or_default();
            match change {
                Change::Remove(n) => remove(&mut event, &at(n)),
                Change::Replace(n, value) => replace(&mut event, &at(n), value),
                Change::Version(v) => replace(&mut event, "/detail/metadata/schema_version", json!(v)),
                Change::DetailType(name) => replace(&mut event, "/detail-type", json!(name)),
                Change::Source(name) => replace(&mut event, "/source", json!(name)),
            }
        }
        event
    })
}

fn remove(event: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    match event.pointer_mut(parent) {
        Some(Value::Object(entries)) => {
            entries.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = key.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

fn replace(event: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = event.pointer_mut(pointer) {
        *slot = value;
    }
}

/// The event's `metadata.event_id`, when it is a string.
fn event_id(event: &Value) -> Option<&str> {
    event.pointer("/detail/metadata/event_id").and_then(Value::as_str)
}

/// Checks a refusal of the event itself: typed, not retryable, naming the event.
fn check_refusal(error: &herald::EnvelopeError, event: &Value) -> Result<(), TestCaseError> {
    prop_assert!(!error.is_retryable(), "{error}");
    prop_assert!(error.error_type().starts_with("Envelope."), "{}", error.error_type());
    if let Some(id) = event_id(event) {
        prop_assert!(error.to_string().contains(id), "{error} does not name {id}");
    }
    Ok(())
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Decodes `event` into the event set `S`: never panics; a refusal is checked. True when
/// accepted.
fn decode_into<S: EventSet>(event: &Value) -> Result<bool, TestCaseError> {
    match RawEvent::from_value(event.clone()).decode_set::<S>() {
        Ok(_) => Ok(true),
        Err(error) => check_refusal(&error, event).map(|()| false),
    }
}

#[test]
fn no_generated_event_panics_the_decoder_and_every_refusal_is_typed_final_and_names_the_event() {
    let accepted = AtomicUsize::new(0);
    let result = runner().run(&event(), |event| {
        let decoded = [
            decode_into::<billing::handler::BillingEvent>(&event)?,
            decode_into::<campaigns::handler::CampaignsEvent>(&event)?,
            decode_into::<contracts::handler::ContractsEvent>(&event)?,
            decode_into::<fulfillment::handler::FulfillmentEvent>(&event)?,
            decode_into::<inventory::handler::InventoryEvent>(&event)?,
            decode_into::<notifications::handler::NotificationsEvent>(&event)?,
            decode_into::<order_history::handler::OrderHistoryEvent>(&event)?,
        ];
        accepted.fetch_add(decoded.iter().filter(|d| **d).count(), Ordering::Relaxed);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let decodings = cases() as usize * 7;
    let accepted = accepted.into_inner();
    println!(
        "decoder: {} generated events into 7 event sets: {accepted} accepted, {} refused, no panic",
        cases(),
        decodings - accepted
    );
}

/// `D` as `main.rs` builds it, in memory, with every AWS endpoint refusing connections.
fn consumer<D: Function, H: for<'a> Handler<'a, D>>(handler: H) -> Consumer<D> {
    let spec = FUNCTIONS.iter().find(|spec| spec.name == D::NAME);
    let mut vars: Vec<(String, String)> = spec
        .map(|spec| {
            spec.tables
                .iter()
                .map(|t| (t.env.to_owned(), t.env.to_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    vars.extend(
        [
            ("HERALD_STORES", "memory"),
            ("IDEMPOTENCY_TABLE", "idempotency"),
            ("EVENT_BUS_NAME", "shop"),
            // One round: a publish fails at once (retryably) instead of backing off.
            ("HERALD_PUBLISH_MAX_ATTEMPTS", "1"),
            ("STOCK_SEED", "SKU-LAPTOP-14=5,SKU-MOUSE-01=10,SKU-PHONE-X=3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    match Consumer::from_env(&Env::from_pairs(unreachable_config(), vars), handler) {
        Ok(consumer) => consumer,
        Err(error) => panic!("{}: {error}", D::NAME),
    }
}

/// Delivers `event` to `consumer`: whatever the answer, a refusal of the event is checked and
/// a handler's failure has a type.
/// True when the handler ran (whatever it answered).
async fn deliver<D: Function>(consumer: &Consumer<D>, event: &Value) -> Result<bool, TestCaseError> {
    match consumer.handle(RawEvent::from_value(event.clone()), None).await {
        Ok(_) => Ok(true),
        Err(ConsumerError::Envelope(error)) => check_refusal(&error, event).map(|()| false),
        Err(error) => {
            prop_assert!(!error.error_type().is_empty(), "{error}");
            Ok(true)
        }
    }
}

#[test]
fn no_generated_event_panics_a_handler_and_every_refusal_is_typed_final_and_names_the_event() {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => panic!("{error}"),
    };
    let _entered = runtime.enter();
    let billing = consumer(billing::handler::handle);
    let campaigns = consumer(campaigns::handler::handle);
    let contracts = consumer(contracts::handler::handle);
    let fulfillment = consumer(fulfillment::handler::handle);
    let inventory = consumer(inventory::handler::handle);
    let notifications = consumer(notifications::handler::handle::<notifications::sender::OutboxSender>);
    let order_history = consumer(order_history::handler::handle);
    let handled = AtomicUsize::new(0);
    let result = runner().run(&event(), |event| {
        let ran = runtime.block_on(async {
            Ok::<_, TestCaseError>([
                deliver(&billing, &event).await?,
                deliver(&campaigns, &event).await?,
                deliver(&contracts, &event).await?,
                deliver(&fulfillment, &event).await?,
                deliver(&inventory, &event).await?,
                deliver(&notifications, &event).await?,
                deliver(&order_history, &event).await?,
            ])
        })?;
        handled.fetch_add(ran.iter().filter(|r| **r).count(), Ordering::Relaxed);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    println!(
        "handlers: {} generated events to 7 functions: {} handler runs, the rest refused, no panic",
        cases(),
        handled.into_inner()
    );
}
