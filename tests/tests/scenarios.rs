//! The shop end to end: the template's bus and rules deployed on moto, all seven functions built
//! exactly as their `main.rs` builds them (`Consumer::from_env` over an environment of the tables
//! and the bus, with each function's own handler), and the catalog's two order stories fed through them in order —
//! `ord-1001` placed, paid, cancelled; `ord-1002` placed, paid, returned.
//!
//! Lambda cannot run on moto, so a pump plays it: it reads each function's stand-in queue and
//! hands every event to that function's consumer. What the functions publish goes back on the
//! bus and the template's rules route it on, until every queue stays empty. An audit rule of the
//! test's own copies every `shop.*` event to a queue, so the test sees every event that crossed
//! the bus, and then reads every table. Each input is put with an X-Ray trace header of its own,
//! and the pump invokes a function with the header its event was put with, as EventBridge does;
//! moto's request recorder shows every PutEvents entry the functions sent carrying the trace of
//! the event that caused it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, Target};
use herald::idempotency::{DynamoStore, GuardedEvent, IdempotencyConfig, Outcome, Status, Store};
use herald::{Call, Classify, Consumer, Env, Envelope, Metadata, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::{drain_queue, queue_arn, sdk_config, unique};
use herald_tests::fixtures::sample_json;
use herald_tests::functions::create_all_tables;
use herald_tests::moto::Recording;
use herald_tests::shop::{Deployed, deploy};
use herald_tests::template::Template;
use notifications::sender::{Message, MessageKind};
use order_history::store::EntryDetail;
use serde_json::{Value, json};
use shop_events::{
    AddOnKind, CancelReason, ContractCancelReason, InvoiceLine, OrderCancelledV1, OrderPlacedV1, OrderReturnedV1,
    PaymentCapturedV1, ReturnReason, ReturnedItem, ShopEvent, StockLine, VoucherIssuedV1, VoucherRule,
};

const PLACED_A: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PAID_A: &str = "shop.payments/PaymentCaptured/v1.sample.json";
const CANCELLED_A: &str = "shop.orders/OrderCancelled/v1.sample.json";
const PLACED_B: &str = "shop.orders/OrderPlaced/v1.sample.insured.json";
const PAID_B: &str = "shop.payments/PaymentCaptured/v1.sample.insured-order.json";
const RETURNED_B: &str = "shop.orders/OrderReturned/v1.sample.json";

const LAPTOP: &str = "SKU-LAPTOP-14";
const MOUSE: &str = "SKU-MOUSE-01";
const PHONE: &str = "SKU-PHONE-X";
/// Units in stock before the story starts, per SKU.
const SEEDED: [(&str, u32); 3] = [(LAPTOP, 5), (MOUSE, 10), (PHONE, 3)];

/// How long the pump waits for the shop to go quiet before it gives up.
const PUMP_LIMIT: Duration = Duration::from_secs(30);
/// Rounds in a row with every queue empty that count as quiet.
const QUIET_ROUNDS: u32 = 3;

/// One function as the pump drives it: an event in, how the guard answered out.
trait Function {
    fn deliver(
        &self,
        raw: RawEvent,
        trace_header: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Result<Outcome, String>> + '_>>;
}

impl<D: herald::Function> Function for Consumer<D> {
    fn deliver(
        &self,
        raw: RawEvent,
        trace_header: Option<String>,
    ) -> Pin<Box<dyn Future<Output = Result<Outcome, String>> + '_>> {
        Box::pin(async move {
            let call = Call {
                trace_header,
                ..Call::default()
            };
            self.handle_call(raw, call)
                .await
                .map(|guarded| guarded.outcome)
                .map_err(|error| format!("{error} (retryable: {})", error.is_retryable()))
        })
    }
}

/// One event handed to one function.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivery {
    function: String,
    detail_type: String,
    event_id: String,
    outcome: Outcome,
}

/// One event that crossed the bus, as the audit queue saw it.
#[derive(Debug)]
struct Audited {
    source: String,
    event: ShopEvent,
}

impl Audited {
    fn metadata(&self) -> &Metadata {
        self.event.metadata()
    }

    fn detail_type(&self) -> &str {
        self.event.detail_type()
    }
}

/// The shop on moto: the template's bus and rules, every function's tables, the seven consumers.
struct Shop {
    sdk: SdkConfig,
    deployed: Deployed,
    /// Table variable (e.g. `STOCK_TABLE`) → table name.
    tables: BTreeMap<&'static str, String>,
    /// Function name → its consumer, built by the function's own wiring.
    functions: BTreeMap<&'static str, Box<dyn Function>>,
    /// Receives a copy of every `shop.*` event on the bus.
    audit_queue: String,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    /// What moto received: every PutEvents entry, with its trace header.
    recording: Recording,
}

impl Shop {
    async fn open() -> TestResult<Self> {
        let sdk = sdk_config().await;
        let deployed = deploy(&sdk, Template::load()?).await?;
        let tables = create_all_tables(&sdk).await?;
        let mut vars = tables.clone();
        vars.insert("EVENT_BUS_NAME", deployed.bus_name.clone());
        let env = Env::from_pairs(sdk.clone(), vars);
        let functions: BTreeMap<&'static str, Box<dyn Function>> = BTreeMap::from([
            (
                "inventory",
                Box::new(Consumer::from_env(&env, inventory::handler::handle)?) as Box<dyn Function>,
            ),
            (
                "fulfillment",
                Box::new(Consumer::from_env(&env, fulfillment::handler::handle)?),
            ),
            (
                "notifications",
                Box::new(Consumer::from_env(&env, notifications::handler::handle)?),
            ),
            (
                "order-history",
                Box::new(Consumer::from_env(&env, order_history::handler::handle)?),
            ),
            (
                "campaigns",
                Box::new(Consumer::from_env(&env, campaigns::handler::handle)?),
            ),
            (
                "contracts",
                Box::new(Consumer::from_env(&env, contracts::handler::handle)?),
            ),
            ("billing", Box::new(Consumer::from_env(&env, billing::handler::handle)?)),
        ]);
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let audit_queue = audit(&events, &sqs, &deployed.bus_name).await?;
        let recording = Recording::start()?;
        Ok(Self {
            sdk,
            deployed,
            tables,
            functions,
            audit_queue,
            events,
            sqs,
            recording,
        })
    }

    fn table(&self, variable: &str) -> TestResult<&str> {
        Ok(self
            .tables
            .get(variable)
            .ok_or(format!("no table {variable}"))?
            .as_str())
    }

    /// The deployed table `variable` names, with primary key `key`.
    fn dynamo_table(&self, variable: &str, key: herald::store::Key) -> TestResult<herald::store::Table> {
        Ok(herald::store::Table::dynamo(
            self.dynamodb(),
            self.table(variable)?,
            key,
        ))
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    fn stock(&self) -> TestResult<inventory::store::StockStore> {
        Ok(inventory::store::StockStore::new(
            self.dynamodb(),
            self.table("STOCK_TABLE")?,
            self.table("RESERVATIONS_TABLE")?,
        ))
    }

    /// Puts a catalogued sample on the bus as its producer would; returns it as sent.
    async fn put(&self, sample: &str) -> TestResult<RawEvent> {
        let raw = RawEvent::from_value(sample_json(sample)?);
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.deployed.bus_name)
            .source(raw.source().ok_or("sample without source")?)
            .detail_type(raw.detail_type().ok_or("sample without detail-type")?)
            .detail(raw.as_value()["detail"].to_string())
            // The producer's X-Ray trace: a new one per input, as a traced order service starts.
            .trace_header(new_trace())
            .build();
        let output = self.events.put_events().entries(entry).send().await?;
        if output.failed_entry_count() > 0 {
            return Err(format!("PutEvents refused {sample}: {:?}", output.entries()).into());
        }
        Ok(raw)
    }

    /// Plays Lambda until the shop is quiet: hands every event on a function's stand-in queue to
    /// that function's consumer and deletes it, round after round, until every queue stayed empty
    /// for [`QUIET_ROUNDS`] rounds. A failed handling fails the test: in this story none may fail.
    async fn pump(&self) -> TestResult<Vec<Delivery>> {
        let started = Instant::now();
        let mut deliveries = Vec::new();
        let mut quiet = 0;
        while quiet < QUIET_ROUNDS {
            if started.elapsed() > PUMP_LIMIT {
                return Err(format!("the shop did not go quiet within {PUMP_LIMIT:?}").into());
            }
            let mut handled = false;
            for (function, consumer) in &self.functions {
                let queue_url = self
                    .deployed
                    .function_queues
                    .get(*function)
                    .ok_or(format!("no queue for {function}"))?;
                let received = self
                    .sqs
                    .receive_message()
                    .queue_url(queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(0)
                    .send()
                    .await?;
                for message in received.messages() {
                    handled = true;
                    let body: Value = serde_json::from_str(message.body().unwrap_or_default())?;
                    let raw = RawEvent::from_value(body);
                    let detail_type = raw.detail_type().unwrap_or_default().to_owned();
                    let event_id = raw.ids().event_id.clone().unwrap_or_default();
                    // As EventBridge does for a Lambda target: the invocation continues the
                    // trace the event was put with (moto's SQS stand-in does not carry it).
                    let trace_header = self.trace_header_of(&event_id)?;
                    let outcome = consumer
                        .deliver(raw, trace_header)
                        .await
                        .map_err(|error| format!("{function} failed on {detail_type} {event_id}: {error}"))?;
                    deliveries.push(Delivery {
                        function: (*function).to_owned(),
                        detail_type,
                        event_id,
                        outcome,
                    });
                    if let Some(handle) = message.receipt_handle() {
                        self.sqs
                            .delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await?;
                    }
                }
            }
            if handled {
                quiet = 0;
            } else {
                quiet += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(deliveries)
    }

    /// The trace header the event with `event_id` was put on the bus with, as moto received it.
    fn trace_header_of(&self, event_id: &str) -> TestResult<Option<String>> {
        Ok(self
            .recording
            .put_events_entries()?
            .into_iter()
            .find(|entry| entry.detail["metadata"]["event_id"] == event_id)
            .and_then(|entry| entry.trace_header))
    }

    /// Every event the audit queue holds, decoded as the catalog types it; waits for `expected`.
    async fn audited(&self, expected: usize) -> TestResult<Vec<Audited>> {
        drain_queue(&self.sqs, &self.audit_queue, expected, Duration::from_secs(10))
            .await?
            .into_iter()
            .map(|body| {
                let raw = RawEvent::from_value(body);
                let source = raw.source().unwrap_or_default().to_owned();
                Ok(Audited {
                    source,
                    event: raw.decode_set::<ShopEvent>()?,
                })
            })
            .collect()
    }

    /// Every item of every table, each rendered as canonical JSON, sorted: two snapshots are
    /// equal exactly when no table changed.
    async fn snapshot(&self) -> TestResult<BTreeMap<&'static str, Vec<String>>> {
        let dynamodb = self.dynamodb();
        let mut snapshot = BTreeMap::new();
        for (variable, table) in &self.tables {
            let pages: Vec<_> = dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .into_paginator()
                .items()
                .send()
                .collect()
                .await;
            let mut items = pages
                .into_iter()
                .map(|item| Ok(canonical_item(&item?).to_string()))
                .collect::<TestResult<Vec<String>>>()?;
            items.sort();
            snapshot.insert(*variable, items);
        }
        Ok(snapshot)
    }
}

/// A new X-Ray trace header: `Root=1-<epoch seconds, 8 hex>-<24 hex>`, sampled.
fn new_trace() -> String {
    let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{seconds:08x}-{};Sampled=1", &random[..24])
}

/// A queue and a rule sending it every `shop.*` event on the bus.
async fn audit(events: &aws_sdk_eventbridge::Client, sqs: &aws_sdk_sqs::Client, bus_name: &str) -> TestResult<String> {
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("audit"))
        .send()
        .await?
        .queue_url()
        .ok_or("CreateQueue returned no URL")?
        .to_owned();
    let rule = unique("audit");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus_name)
        .event_pattern(json!({"source": [{"prefix": "shop."}]}).to_string())
        .send()
        .await?;
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus_name)
        .targets(
            Target::builder()
                .id("audit")
                .arn(queue_arn(sqs, &queue_url).await?)
                .build()?,
        )
        .send()
        .await?;
    Ok(queue_url)
}

/// An item as JSON with its attributes (and those of nested maps) in name order.
fn canonical_item(item: &HashMap<String, AttributeValue>) -> Value {
    let sorted: BTreeMap<&String, &AttributeValue> = item.iter().collect();
    Value::Object(
        sorted
            .into_iter()
            .map(|(name, value)| (name.clone(), canonical(value)))
            .collect(),
    )
}

fn canonical(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        AttributeValue::L(items) => json!({ "L": items.iter().map(canonical).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": canonical_item(map) }),
        other => json!({ "other": format!("{other:?}") }),
    }
}

/// The events of one order's life: those carrying its correlation id.
fn life<'a>(audited: &'a [Audited], placed: &Envelope<OrderPlacedV1>) -> Vec<&'a Audited> {
    let correlation_id = placed.metadata().correlation_id;
    audited
        .iter()
        .filter(|event| event.metadata().correlation_id == correlation_id)
        .collect()
}

/// `(source, detail-type)` of every event of a life, sorted: the multiset of what crossed the bus.
fn kinds<'a>(life: &[&'a Audited]) -> Vec<(&'a str, &'a str)> {
    let mut kinds: Vec<_> = life
        .iter()
        .map(|event| (event.source.as_str(), event.detail_type()))
        .collect();
    kinds.sort_unstable();
    kinds
}

/// `(detail-type, detail-type of its cause)` for every event of a life that has a cause, sorted.
///
/// # Errors
/// When an event names a cause that is not an event of the same life.
fn causes<'a>(life: &[&'a Audited]) -> TestResult<Vec<(&'a str, &'a str)>> {
    let mut edges = Vec::new();
    for event in life {
        if let Some(cause_id) = event.metadata().causation_id {
            let cause = life
                .iter()
                .find(|candidate| candidate.metadata().event_id == cause_id)
                .ok_or(format!(
                    "{}: its cause {cause_id} is not in its life",
                    event.detail_type()
                ))?;
            edges.push((event.detail_type(), cause.detail_type()));
        }
    }
    edges.sort_unstable();
    Ok(edges)
}

/// The one event of `detail_type` in a life.
fn one<'a>(life: &[&'a Audited], detail_type: &str) -> TestResult<&'a Audited> {
    match life
        .iter()
        .filter(|event| event.detail_type() == detail_type)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [event] => Ok(event),
        found => Err(format!("expected one {detail_type}, found {}", found.len()).into()),
    }
}

fn sorted<'a>(mut pairs: Vec<(&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    pairs.sort_unstable();
    pairs
}

fn line(sku: &str, quantity: u32) -> StockLine {
    StockLine {
        sku: sku.to_owned(),
        quantity,
    }
}

fn invoice_line(description: &str, quantity: u32, amount_minor: u64) -> InvoiceLine {
    InvoiceLine {
        description: description.to_owned(),
        quantity,
        amount_minor,
    }
}

#[tokio::test]
async fn an_order_cancelled_and_an_order_returned_after_payment_leave_every_table_and_event_as_the_story_says()
-> TestResult {
    // Given the template's bus and rules on moto, every function wired by its own wiring over
    // fresh tables, and stock for both orders
    let shop = Shop::open().await?;
    // Every domain function of the template takes part (redrive reacts to alarms, not orders).
    let function_names: BTreeSet<&str> = shop
        .deployed
        .function_queues
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "redrive")
        .collect();
    assert_eq!(
        function_names,
        shop.functions.keys().copied().collect(),
        "a consumer per template function"
    );
    let stock = shop.stock()?;
    for (sku, units) in SEEDED {
        stock.set_available(sku, units).await?;
    }

    // When both orders are placed, then both are paid
    let placed_a = shop.put(PLACED_A).await?.decode::<OrderPlacedV1>()?;
    let placed_b = shop.put(PLACED_B).await?.decode::<OrderPlacedV1>()?;
    let mut deliveries = shop.pump().await?;
    let paid_a = shop.put(PAID_A).await?;
    let paid_b = shop.put(PAID_B).await?.decode::<PaymentCapturedV1>()?;
    deliveries.extend(shop.pump().await?);
    let held = [
        stock.available(LAPTOP).await?,
        stock.available(MOUSE).await?,
        stock.available(PHONE).await?,
    ];
    // and then ord-1001 is cancelled and ord-1002 is returned
    let cancelled_a = shop.put(CANCELLED_A).await?.decode::<OrderCancelledV1>()?;
    let returned_b = shop.put(RETURNED_B).await?.decode::<OrderReturnedV1>()?;
    deliveries.extend(shop.pump().await?);
    let audited = shop.audited(18).await?;
    let paid_a_event = paid_a.clone().decode::<PaymentCapturedV1>()?;
    let (order_a, order_b) = (placed_a.data(), placed_b.data());

    // Then each function received exactly what the template routes to it, and handled it once
    let mut received: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for delivery in &deliveries {
        received
            .entry(delivery.function.as_str())
            .or_default()
            .push(delivery.detail_type.as_str());
        assert_eq!(delivery.outcome, Outcome::Claimed, "{delivery:?}");
    }
    received.values_mut().for_each(|types| types.sort_unstable());
    assert_eq!(
        received,
        BTreeMap::from([
            (
                "billing",
                vec!["OrderPlaced", "OrderPlaced", "PaymentCaptured", "PaymentCaptured"]
            ),
            ("campaigns", vec!["OrderPlaced", "OrderPlaced"]),
            (
                "contracts",
                vec!["OrderCancelled", "OrderPlaced", "OrderPlaced", "OrderReturned"]
            ),
            ("fulfillment", vec!["OrderCancelled", "StockReserved", "StockReserved"]),
            (
                "inventory",
                vec!["OrderCancelled", "OrderPlaced", "OrderPlaced", "OrderReturned"]
            ),
            (
                "notifications",
                vec!["ContractCancelled", "ContractCancelled", "OrderPlaced", "OrderPlaced"]
            ),
            (
                "order-history",
                vec!["OrderCancelled", "OrderPlaced", "OrderPlaced", "OrderReturned"]
            ),
        ])
    );

    // and every event crossed the bus once, in one of the two lives, each emitted event naming
    // its function as producer
    let (life_a, life_b) = (life(&audited, &placed_a), life(&audited, &placed_b));
    assert_eq!(
        life_a.len() + life_b.len(),
        audited.len(),
        "every event belongs to a life"
    );
    let event_ids: BTreeSet<_> = audited.iter().map(|event| event.metadata().event_id).collect();
    assert_eq!(event_ids.len(), audited.len(), "no event crossed the bus twice");

    // and every PutEvents entry moto received for a follow-on event carried the X-Ray trace of
    // the event that caused it, so each input's trace runs to the last event it set off
    let received: HashMap<String, Option<String>> = shop
        .recording
        .put_events_entries()?
        .into_iter()
        .filter_map(|entry| {
            let id = entry.detail["metadata"]["event_id"].as_str()?.to_owned();
            Some((id, entry.trace_header))
        })
        .collect();
    let root = |event: &Audited| -> TestResult<String> {
        let header = received
            .get(&event.metadata().event_id.to_string())
            .cloned()
            .flatten()
            .ok_or(format!("moto received {} without a trace header", event.detail_type()))?;
        Ok(herald::trace::root(&header).to_owned())
    };
    let by_id: HashMap<String, &Audited> = audited.iter().map(|e| (e.metadata().event_id.to_string(), e)).collect();
    let mut inputs = BTreeSet::new();
    for event in &audited {
        let trace = root(event)?;
        match event.metadata().causation_id.map(|id| id.to_string()) {
            // The six inputs come from the order and payment services (an input may name its
            // cause, as a cancellation names its order); the functions published the rest.
            Some(cause) if !matches!(event.source.as_str(), "shop.orders" | "shop.payments") => {
                let cause = by_id
                    .get(&cause)
                    .ok_or(format!("{} has no cause on the bus", event.detail_type()))?;
                assert_eq!(
                    trace,
                    root(cause)?,
                    "{} continues {}'s trace",
                    event.detail_type(),
                    cause.detail_type()
                );
            }
            _ => {
                inputs.insert(trace);
            }
        }
    }
    assert_eq!(
        inputs.len(),
        6,
        "each of the six inputs started a trace of its own: {inputs:?}"
    );
    let shipment = life_a
        .iter()
        .find(|event| event.detail_type() == "ShipmentRequested")
        .ok_or("ord-1001 was not shipped")?;
    assert_eq!(
        root(shipment)?,
        root(
            life_a
                .iter()
                .find(|e| e.detail_type() == "OrderPlaced")
                .ok_or("no OrderPlaced")?
        )?,
        "two hops on, ord-1001's shipment is in its order's trace"
    );
    for event in &audited {
        if !matches!(event.source.as_str(), "shop.orders" | "shop.payments") {
            assert_eq!(
                Some(event.metadata().producer.as_str()),
                event.source.strip_prefix("shop."),
                "{event:?}"
            );
        }
    }

    // and ord-1001's life is exactly these events, each caused by the one before it in the story
    assert_eq!(
        kinds(&life_a),
        sorted(vec![
            ("shop.orders", "OrderPlaced"),
            ("shop.inventory", "StockReserved"),
            ("shop.fulfillment", "ShipmentRequested"),
            ("shop.contracts", "ContractCreated"),
            ("shop.campaigns", "VoucherIssued"),
            ("shop.payments", "PaymentCaptured"),
            ("shop.billing", "InvoiceIssued"),
            ("shop.orders", "OrderCancelled"),
            ("shop.fulfillment", "ShipmentCancelled"),
            ("shop.contracts", "ContractCancelled"),
        ])
    );
    assert_eq!(
        causes(&life_a)?,
        sorted(vec![
            ("StockReserved", "OrderPlaced"),
            ("ShipmentRequested", "StockReserved"),
            ("ContractCreated", "OrderPlaced"),
            ("VoucherIssued", "OrderPlaced"),
            ("PaymentCaptured", "OrderPlaced"),
            ("InvoiceIssued", "PaymentCaptured"),
            ("OrderCancelled", "OrderPlaced"),
            ("ShipmentCancelled", "OrderCancelled"),
            ("ContractCancelled", "OrderCancelled"),
        ])
    );

    // and ord-1002's life too: no voucher, and no shipment cancelled by a return
    assert_eq!(
        kinds(&life_b),
        sorted(vec![
            ("shop.orders", "OrderPlaced"),
            ("shop.inventory", "StockReserved"),
            ("shop.fulfillment", "ShipmentRequested"),
            ("shop.contracts", "ContractCreated"),
            ("shop.payments", "PaymentCaptured"),
            ("shop.billing", "InvoiceIssued"),
            ("shop.orders", "OrderReturned"),
            ("shop.contracts", "ContractCancelled"),
        ])
    );
    assert_eq!(
        causes(&life_b)?,
        sorted(vec![
            ("StockReserved", "OrderPlaced"),
            ("ShipmentRequested", "StockReserved"),
            ("ContractCreated", "OrderPlaced"),
            ("PaymentCaptured", "OrderPlaced"),
            ("InvoiceIssued", "PaymentCaptured"),
            ("OrderReturned", "OrderPlaced"),
            ("ContractCancelled", "OrderReturned"),
        ])
    );

    // and every table holds exactly what the two stories leave behind
    let counts: BTreeMap<&str, usize> = shop
        .snapshot()
        .await?
        .into_iter()
        .map(|(table, items)| (table, items.len()))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("BILLING_ORDERS_TABLE", 2),
            ("CAMPAIGN_ORDERS_TABLE", 2),
            ("CONTRACTS_TABLE", 4), // a contract and a tombstone per order
            ("HISTORY_TABLE", 4),
            ("IDEMPOTENCY_TABLE", deliveries.len()),
            ("INVOICES_TABLE", 2),
            ("OUTBOX_TABLE", 4),
            ("RESERVATIONS_TABLE", 2),
            ("SHIPMENTS_TABLE", 2),
            ("STOCK_TABLE", 3),
            ("VOUCHERS_TABLE", 1),
            ("VOUCHER_CLAIMS_TABLE", 1), // ord-1001's big-spender claim
        ])
    );

    // inventory: the units were held while the orders were paid, and are all back in stock now
    assert_eq!(held, [(4, 1), (8, 2), (2, 1)]);
    for (sku, units) in SEEDED {
        assert_eq!(stock.available(sku).await?, (units, 0), "{sku}");
    }
    let reservation_a = stock.reservation(&order_a.order_id).await?.ok_or("no reservation A")?;
    // (a released reservation holds nothing, and names the one event that released it)
    assert_eq!(reservation_a.status, inventory::store::ReservationStatus::Released);
    assert!(reservation_a.lines.is_empty());
    assert_eq!(reservation_a.released_by.len(), 1);
    let reservation_b = stock.reservation(&order_b.order_id).await?.ok_or("no reservation B")?;
    assert_eq!(reservation_b.status, inventory::store::ReservationStatus::Released);
    assert!(reservation_b.lines.is_empty());
    assert_eq!(reservation_b.released_by.len(), 1);

    // fulfillment: ord-1001's shipment is cancelled by the cancellation; ord-1002's stays
    // requested, as fulfillment does not consume returns
    let shipments =
        fulfillment::store::ShipmentStore::new(shop.dynamo_table("SHIPMENTS_TABLE", fulfillment::store::KEY)?);
    let shipment_a = shipments.shipment(&order_a.order_id).await?.ok_or("no shipment A")?;
    assert_eq!(shipment_a.status, fulfillment::store::ShipmentStatus::Cancelled);
    assert_eq!(shipment_a.shipment_id, "shp-1001");
    assert_eq!(shipment_a.lines, [line(LAPTOP, 1), line(MOUSE, 2)]);
    let reserved_a = one(&life_a, "StockReserved")?.metadata().event_id.to_string();
    assert_eq!(shipment_a.requested_by.as_deref(), Some(reserved_a.as_str()));
    let cancelled_a_id = cancelled_a.metadata().event_id.to_string();
    assert_eq!(shipment_a.cancelled_by.as_deref(), Some(cancelled_a_id.as_str()));
    let shipment_b = shipments.shipment(&order_b.order_id).await?.ok_or("no shipment B")?;
    assert_eq!(shipment_b.status, fulfillment::store::ShipmentStatus::Requested);
    assert_eq!(shipment_b.lines, [line(PHONE, 1)]);
    assert_eq!(shipment_b.cancelled_by, None);

    // contracts: each order's add-on became one contract, cancelled by the cancellation or the
    // return, with the reason each says
    let contracts = contracts::store::ContractStore::new(shop.dynamodb(), shop.table("CONTRACTS_TABLE")?);
    let returned_b_id = returned_b.metadata().event_id.to_string();
    for (placed, ended_by, kind, plan, reason, events) in [
        (
            &placed_a,
            &cancelled_a_id,
            AddOnKind::Warranty,
            "extended-3y",
            ContractCancelReason::OrderCancelled,
            &life_a,
        ),
        (
            &placed_b,
            &returned_b_id,
            AddOnKind::Insurance,
            "theft-and-damage",
            ContractCancelReason::OrderReturned,
            &life_b,
        ),
    ] {
        let order_id = &placed.data().order_id;
        let stored = contracts.order(order_id).await?;
        let [contract] = stored.contracts.as_slice() else {
            return Err(format!("{order_id}: expected one contract, found {:?}", stored.contracts).into());
        };
        // A cancellation tombstones the order; a return, each SKU it brings back
        let tombstone = match reason {
            ContractCancelReason::OrderCancelled => stored.cancelled_by.as_ref(),
            ContractCancelReason::OrderReturned => stored.returned.get(&contract.sku),
        };
        assert_eq!(tombstone, Some(ended_by), "{order_id}: tombstone");
        assert_eq!(contract.contract_id, contracts::store::contract_id(order_id, 1));
        assert_eq!((contract.kind, contract.plan.as_str()), (kind, plan));
        assert_eq!(contract.status, contracts::store::ContractStatus::Cancelled);
        assert_eq!(contract.created_by, placed.metadata().event_id.to_string());
        assert_eq!(contract.cancelled_by.as_ref(), Some(ended_by));
        let ShopEvent::ContractCancelledV1(cancelled) = &one(events, "ContractCancelled")?.event else {
            return Err("ContractCancelled is not a ContractCancelled v1".into());
        };
        assert_eq!(cancelled.data().contract_id, contract.contract_id);
        assert_eq!(cancelled.data().reason, reason);
    }

    // notifications: each customer got the receipt, then the contract-cancellation notice
    let outbox = notifications::store::Outbox::new(shop.dynamo_table("OUTBOX_TABLE", notifications::store::KEY)?);
    for (placed, events) in [(&placed_a, &life_a), (&placed_b, &life_b)] {
        let sent = outbox.sent_to(placed.data().customer.email.expose()).await?;
        let contract_cancelled = one(events, "ContractCancelled")?.metadata();
        assert_eq!(
            sent.iter()
                .map(|message| (message.kind, message.message_id.clone(), message.order_id.as_str()))
                .collect::<Vec<_>>(),
            [
                (
                    MessageKind::Receipt,
                    Message::id_for(placed.metadata(), MessageKind::Receipt),
                    placed.data().order_id.as_str()
                ),
                (
                    MessageKind::ContractCancelled,
                    Message::id_for(contract_cancelled, MessageKind::ContractCancelled),
                    placed.data().order_id.as_str()
                ),
            ]
        );
    }

    // order history: placed then cancelled; placed then returned
    let history =
        order_history::store::HistoryStore::new(shop.dynamo_table("HISTORY_TABLE", order_history::store::KEY)?);
    let summary = |entries: Vec<order_history::store::Entry>| {
        entries
            .into_iter()
            .map(|entry| (entry.order_id, entry.event_id, entry.detail))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        summary(history.history(&order_a.customer.customer_id).await?),
        [
            (
                order_a.order_id.clone(),
                placed_a.metadata().event_id.to_string(),
                EntryDetail::Placed {
                    total_minor: order_a.totals.total_minor,
                    currency: "EUR".to_owned(),
                    item_count: 3,
                }
            ),
            (
                order_a.order_id.clone(),
                cancelled_a_id.clone(),
                EntryDetail::Cancelled {
                    reason: CancelReason::CustomerRequest
                }
            ),
        ]
    );
    assert_eq!(
        summary(history.history(&order_b.customer.customer_id).await?),
        [
            (
                order_b.order_id.clone(),
                placed_b.metadata().event_id.to_string(),
                EntryDetail::Placed {
                    total_minor: order_b.totals.total_minor,
                    currency: "EUR".to_owned(),
                    item_count: 1,
                }
            ),
            (
                order_b.order_id.clone(),
                returned_b_id.clone(),
                EntryDetail::Returned {
                    items: vec![ReturnedItem {
                        sku: PHONE.to_owned(),
                        quantity: 1
                    }],
                    reason: ReturnReason::Damaged,
                }
            ),
        ]
    );

    // campaigns: both orders are recorded; 1847.09 EUR crosses the big-spender threshold
    // (1500.00) in one order and earns its voucher, 1371.11 EUR, a first order, earns none
    let rules = campaigns::rules::Rules::default();
    assert!(order_a.totals.total_minor >= rules.big_spender_threshold_minor);
    assert!(order_b.totals.total_minor < rules.big_spender_threshold_minor);
    let campaign = campaigns::store::CampaignStore {
        orders: shop.dynamo_table("CAMPAIGN_ORDERS_TABLE", campaigns::store::ORDERS_KEY)?,
        vouchers: shop.dynamo_table("VOUCHERS_TABLE", campaigns::store::VOUCHERS_KEY)?,
        claims: shop.dynamo_table("VOUCHER_CLAIMS_TABLE", campaigns::store::CLAIMS_KEY)?,
    };
    for placed in [&placed_a, &placed_b] {
        let order = placed.data();
        assert_eq!(
            campaign.orders(&order.customer.customer_id).await?,
            [campaigns::rules::PlacedOrder {
                order_id: order.order_id.clone(),
                total_minor: order.totals.total_minor,
                currency: order.currency.clone(),
                placed_at: placed.metadata().occurred_at,
            }]
        );
    }
    let expected_voucher = VoucherIssuedV1 {
        voucher_id: "vch-1001".to_owned(),
        customer_id: order_a.customer.customer_id.clone(),
        qualifying_order_id: order_a.order_id.clone(),
        rule: VoucherRule::BigSpender,
        value_minor: rules.big_spender_value_minor,
        currency: "EUR".to_owned(),
        valid_until: placed_a.metadata().occurred_at + rules.voucher_validity,
    };
    let voucher = campaign.voucher(&order_a.order_id).await?.ok_or("no voucher for A")?;
    assert_eq!(voucher.voucher, expected_voucher);
    assert_eq!(voucher.issued_by, placed_a.metadata().event_id);
    let ShopEvent::VoucherIssuedV1(issued) = &one(&life_a, "VoucherIssued")?.event else {
        return Err("VoucherIssued is not a VoucherIssued v1".into());
    };
    assert_eq!(issued.data(), &expected_voucher);
    assert_eq!(campaign.voucher(&order_b.order_id).await?, None);

    // billing: each order is snapshotted line by line and invoiced once, for what was paid
    let billing = billing::store::BillingStore {
        orders: shop.dynamo_table("BILLING_ORDERS_TABLE", billing::store::KEY)?,
        invoices: shop.dynamo_table("INVOICES_TABLE", billing::store::KEY)?,
    };
    for (placed, paid, invoice_id, lines, events) in [
        (
            &placed_a,
            &paid_a_event,
            "inv-1001",
            vec![
                invoice_line("Laptop 14\" x1", 1, 129_900),
                invoice_line("Warranty extended-3y", 1, 19_900),
                invoice_line("Wireless Mouse x2", 2, 4_998),
                invoice_line("Tax", 1, 29_412),
                invoice_line("Shipping", 1, 499),
            ],
            &life_a,
        ),
        (
            &placed_b,
            &paid_b,
            "inv-1002",
            vec![
                invoice_line("Phone X x1", 1, 99_900),
                invoice_line("Insurance theft-and-damage", 1, 14_900),
                invoice_line("Tax", 1, 21_812),
                invoice_line("Shipping", 1, 499),
            ],
            &life_b,
        ),
    ] {
        let order_id = &placed.data().order_id;
        let snapshot = billing.order(order_id).await?.ok_or("no order snapshot")?;
        assert_eq!(snapshot.lines, lines, "{order_id}");
        assert_eq!(snapshot.total_minor, paid.data().amount_minor, "{order_id}");
        let invoice = billing.invoice(order_id).await?.ok_or("no invoice")?;
        assert_eq!(invoice.invoice.invoice_id, invoice_id);
        assert_eq!(invoice.invoice.payment_id, paid.data().payment_id);
        assert_eq!(invoice.invoice.total_minor, paid.data().amount_minor);
        assert_eq!(invoice.invoice.lines, lines);
        assert_eq!(invoice.issued_by, paid.metadata().event_id);
        let ShopEvent::InvoiceIssuedV1(issued) = &one(events, "InvoiceIssued")?.event else {
            return Err("InvoiceIssued is not an InvoiceIssued v1".into());
        };
        assert_eq!(issued.data(), &invoice.invoice);
    }

    // and every delivery's idempotency record is COMPLETED under its function's name
    let records = DynamoStore::new(shop.dynamodb(), shop.table("IDEMPOTENCY_TABLE")?);
    for delivery in &deliveries {
        let key = IdempotencyConfig::new(delivery.function.as_str()).record_key(&delivery.event_id);
        let record = records.get(&key).await?.ok_or(format!("no record {key}"))?;
        assert_eq!(record.status, Status::Completed, "{key}");
    }

    // When ord-1001's PaymentCaptured is delivered again
    let before = shop.snapshot().await?;
    let paid_again = shop.put(PAID_A).await?;
    let redelivered = shop.pump().await?;

    // Then billing answers it from its record without running, nothing is emitted, and no
    // table changes
    assert_eq!(paid_again.ids().event_id, paid_a.ids().event_id);
    let [redelivery] = redelivered.as_slice() else {
        return Err(format!("expected one delivery, got {redelivered:?}").into());
    };
    assert_eq!(
        (redelivery.function.as_str(), redelivery.detail_type.as_str()),
        ("billing", "PaymentCaptured")
    );
    assert!(
        matches!(redelivery.outcome, Outcome::Cached | Outcome::Duplicate),
        "{redelivery:?}"
    );
    let crossed = shop.audited(1).await?;
    assert_eq!(
        crossed
            .iter()
            .map(|event| (event.detail_type(), event.metadata().event_id))
            .collect::<Vec<_>>(),
        [("PaymentCaptured", paid_a_event.metadata().event_id)]
    );
    assert_eq!(shop.snapshot().await?, before);
    Ok(())
}
