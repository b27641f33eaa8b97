//! Peer benchmark: Herald's consumer against Powertools for AWS Lambda (Python) `@idempotent`, on
//! the same events and the same moto server, in one run; prints figures, asserts nothing about
//! speed.
//!
//! `make bench-peer` installs Powertools into the tools' venv and runs this
//! (`cargo bench -p herald-tests --bench peer`). It writes `HERALD_PEER_EVENTS` (default 1,000)
//! OrderPlaced events with fresh event ids, runs `scripts/bench_peer_powertools.py` on them
//! (its figures come back as JSON lines), then runs Herald's consumer (decode, guard, a trivial
//! handler answering as the Python one does) on the same events and paths:
//! - `first`: first delivery, the idempotency cache off (claim and completion: 2 calls);
//! - `duplicate`: the same events again, the cache off (the failed claim returns the record: 1);
//! - `cached`: the same events again with the warm cache holding every id (0 calls);
//! - `derived`: the duplicates again, through the same consumer declaring its key
//!   [`IdempotencyKey::Derived`] (the event id again, so its records and calls are the same):
//!   decoded before it is claimed, where a consumer keyed by event id is answered undecoded;
//! - `buffered`: as many fresh events in SQS batches of ten through `Consumer::handle_batch`, as
//!   a buffered consumer receives them (one claim and one completion transaction per batch),
//!   set against Powertools' first delivery.
//!
//! Herald's consumer builds its EMF metric lines (into a sink); neither side logs. Each side's
//! figure is its own process's CPU (user + system, every thread) around the loop,
//! so moto's CPU counts for neither; DynamoDB calls are counted by each side's SDK hook. For
//! scale, the same run measures one bare aws-sdk-dynamodb PutItem and GetItem. What Herald adds
//! on top of the SDK calls it makes is its CPU minus that of the very same requests (recorded
//! from a separate run of the consumer on other fresh events) sent again with the bare SDK, each
//! path measured in 20 slices that alternate the two so that the machine's drift falls on both;
//! it is printed over the whole run and as the median (and middle half) of the slices' shares,
//! which a burst of load in one slice barely moves. moto is served with HTTP keep-alive
//! (`scripts/moto_server.py`), so neither side pays a reconnect per call.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use cpu_time::ProcessTime;
use herald::idempotency::{ChosenStore, DynamoStore, IdempotencyConfig, IdempotencyGuard, Outcome};
use herald::{Call, ConfigError, Consumer, Env, Function, IdempotencyKey, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::{CallCounter, counted_client, create_idempotency_table};
use herald_tests::fixtures::{HandlerError, fresh_sample};
use shop_events::OrderPlacedV1;

herald::event_set! {
    /// What the benchmark's consumer takes: OrderPlaced v1, as the Python handler does.
    #[derive(Debug)]
    pub enum Placed {
        /// A placed order.
        Order(OrderPlacedV1) from (OrderPlacedV1,),
    }
}

/// A consumer with nothing to do but answer, as the Python handler's body does.
struct Peer;

impl Function for Peer {
    const NAME: &'static str = "bench-peer";
    type Event = Placed;
    type Reaction = Answer;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}

/// The path name of [`PeerDerived`]'s duplicates.
const DERIVED: &str = "derived";

/// The same consumer with its key derived from the decoded event (the event id again): what a
/// function that declares [`IdempotencyKey::Derived`] pays on a duplicate, decoding it first.
struct PeerDerived;

impl Function for PeerDerived {
    const NAME: &'static str = Peer::NAME;
    type Event = Placed;
    type Reaction = Answer;
    type Error = HandlerError;
    const IDEMPOTENCY_KEY: IdempotencyKey<Placed> =
        IdempotencyKey::Derived(|Placed::Order(placed)| Some(placed.detail.metadata.event_id.to_string()));

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}

async fn answer_derived(_deps: &PeerDerived, event: Placed) -> Result<Answer, HandlerError> {
    answer(&Peer, event).await
}

/// What both handlers answer.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Answer {
    order_id: String,
    accepted: bool,
}

async fn answer(_deps: &Peer, event: Placed) -> Result<Answer, HandlerError> {
    let Placed::Order(placed) = event;
    Ok(Answer {
        order_id: placed.detail.data.order_id,
        accepted: true,
    })
}

/// One path's figures on one side.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    cpu_us_per_event: f64,
    calls_per_event: f64,
}

/// What the Python half printed.
#[derive(Debug, Default)]
struct Powertools {
    versions: String,
    import_ms: f64,
    paths: std::collections::BTreeMap<String, Figures>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn per_event(cpu: Duration, count: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / count as f64
}

/// A DynamoDB request the guard sent, as its SDK input, to be sent again without Herald.
#[derive(Debug, Clone)]
enum Recorded {
    Put(PutItemInput),
    Update(UpdateItemInput),
    Transact(TransactWriteItemsInput),
}

impl Recorded {
    /// The same request on another table.
    fn on(mut self, table: &str) -> Self {
        match &mut self {
            Self::Put(input) => input.table_name = Some(table.to_owned()),
            Self::Update(input) => input.table_name = Some(table.to_owned()),
            Self::Transact(input) => {
                for item in input.transact_items.iter_mut().flatten() {
                    if let Some(put) = &mut item.put {
                        table.clone_into(&mut put.table_name);
                    }
                    if let Some(update) = &mut item.update {
                        table.clone_into(&mut update.table_name);
                    }
                }
            }
        }
        self
    }

    /// Sends it with the bare SDK; a conditional check failing is an answer, as for the guard.
    async fn send(self, client: &aws_sdk_dynamodb::Client) {
        // The answers are not looked at: the duplicates' claims fail by design.
        let _answer = match self {
            Self::Put(i) => client
                .put_item()
                .set_table_name(i.table_name)
                .set_item(i.item)
                .set_condition_expression(i.condition_expression)
                .set_expression_attribute_names(i.expression_attribute_names)
                .set_expression_attribute_values(i.expression_attribute_values)
                .set_return_values(i.return_values)
                .set_return_values_on_condition_check_failure(i.return_values_on_condition_check_failure)
                .send()
                .await
                .map(drop)
                .map_err(drop),
            Self::Update(i) => client
                .update_item()
                .set_table_name(i.table_name)
                .set_key(i.key)
                .set_update_expression(i.update_expression)
                .set_condition_expression(i.condition_expression)
                .set_expression_attribute_names(i.expression_attribute_names)
                .set_expression_attribute_values(i.expression_attribute_values)
                .set_return_values(i.return_values)
                .set_return_values_on_condition_check_failure(i.return_values_on_condition_check_failure)
                .send()
                .await
                .map(drop)
                .map_err(drop),
            Self::Transact(i) => client
                .transact_write_items()
                .set_transact_items(i.transact_items)
                .send()
                .await
                .map(drop)
                .map_err(drop),
        };
    }
}

/// Records the input of every request its client sends.
#[derive(Debug, Clone, Default)]
struct Recorder {
    sent: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// The requests recorded since the last call.
    fn take(&self) -> Vec<Recorded> {
        self.sent
            .lock()
            .map(|mut sent| std::mem::take(&mut *sent))
            .unwrap_or_default()
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let input = context.input();
        let recorded = if let Some(put) = input.downcast_ref::<PutItemInput>() {
            Recorded::Put(put.clone())
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            Recorded::Update(update.clone())
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            Recorded::Transact(transaction.clone())
        } else {
            return Err("the guard sent a request the recorder does not know".into());
        };
        self.sent.lock().map_err(|_| "recorder poisoned")?.push(recorded);
        Ok(())
    }
}

/// The guard over `table`, with a cache of `cache_capacity` records.
fn guard(client: &aws_sdk_dynamodb::Client, table: &str, cache_capacity: usize) -> IdempotencyGuard<ChosenStore> {
    IdempotencyGuard::new(
        ChosenStore::Dynamo(DynamoStore::new(client.clone(), table)),
        IdempotencyConfig {
            cache_capacity,
            ..IdempotencyConfig::new(Peer::NAME)
        },
    )
}

/// Fresh events in SQS batches of ten, as Lambda's event source mapping hands them to a
/// buffered consumer.
fn sqs_batches(count: usize) -> TestResult<Vec<SqsEvent>> {
    let fresh: Vec<RawEvent> = (0..count)
        .map(|_| fresh_sample("shop.orders/OrderPlaced/v1.sample.json"))
        .collect::<TestResult<_>>()?;
    Ok(fresh
        .chunks(10)
        .map(|chunk| {
            let mut batch = SqsEvent::default();
            batch.records = chunk
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    let mut message = SqsMessage::default();
                    message.message_id = Some(format!("m-{i}"));
                    message.body = Some(raw.as_value().to_string());
                    message
                        .attributes
                        .insert("ApproximateReceiveCount".to_owned(), "1".to_owned());
                    message
                })
                .collect();
            batch
        })
        .collect())
}

/// The requests Herald's guard makes on each store path, recorded from a separate, unmeasured
/// run of the same consumer on `count` other fresh events (first delivery, the duplicates, and
/// SQS batches of ten), each retargeted to a fresh table on which they can be sent again in
/// order: the first delivery's claims succeed there and the duplicates' claims fail, as they did.
/// Returns them by path, and the client and table to send them with.
async fn recorded_calls(
    sdk: &SdkConfig,
    count: usize,
) -> TestResult<(Vec<(&'static str, Vec<Recorded>)>, aws_sdk_dynamodb::Client)> {
    let recorder = Recorder::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(recorder.clone())
        .build();
    let recording = aws_sdk_dynamodb::Client::from_conf(conf);
    let (client, _) = counted_client(sdk);
    let table = create_idempotency_table(&client).await?;
    let consumer = Consumer::new(Peer, guard(&recording, &table, 0), answer);
    let events: Vec<RawEvent> = (0..count)
        .map(|_| fresh_sample("shop.orders/OrderPlaced/v1.sample.json"))
        .collect::<TestResult<_>>()?;
    let mut recorded = Vec::new();
    for path in ["first", "duplicate"] {
        for raw in events.iter().cloned() {
            consumer.handle(raw, None).await?;
        }
        recorded.push((path, recorder.take()));
    }
    for batch in sqs_batches(count)? {
        consumer.handle_batch(batch, Call::default()).await;
    }
    recorded.push(("buffered", recorder.take()));
    let replay_table = create_idempotency_table(&client).await?;
    // The first request of a fresh client sets it up (connection, credentials): not counted.
    client.describe_table().table_name(&replay_table).send().await?;
    let recorded = recorded
        .into_iter()
        .map(|(path, requests)| (path, requests.into_iter().map(|r| r.on(&replay_table)).collect()))
        .collect();
    Ok((recorded, client))
}

/// How many slices each path is measured in, alternating Herald's slice with the same calls
/// sent bare, so that the machine's drift during the run falls on both alike.
const SLICES: usize = 20;

/// Herald's own share on top of the same calls sent bare, from each slice's pair of CPU times
/// (Herald's, the bare calls'): the median of the slices' shares and the middle half of them. A
/// burst of load from a neighbour on this shared machine lands in a slice or two, and moves the
/// median far less than the run's totals.
fn own_share(pairs: &[(Duration, Duration)]) -> (f64, f64, f64) {
    let mut shares: Vec<f64> = pairs
        .iter()
        .filter(|(_, bare)| !bare.is_zero())
        .map(|(ours, bare)| (ours.as_secs_f64() - bare.as_secs_f64()) / bare.as_secs_f64() * 100.0)
        .collect();
    shares.sort_by(f64::total_cmp);
    let at = |q: f64| {
        shares
            .get((q * (shares.len().max(1) - 1) as f64).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (at(0.5), at(0.25), at(0.75))
}

/// The `k`-th of [`SLICES`] near-equal slices of `items`.
fn slice<T>(items: &[T], k: usize) -> &[T] {
    &items[k * items.len() / SLICES..(k + 1) * items.len() / SLICES]
}

/// Runs the Python half on the events in `file`, against `endpoint`.
fn powertools(endpoint: &str, file: &std::path::Path) -> TestResult<Powertools> {
    let python = root().join(".tools/bin/python");
    let output = Command::new(&python)
        .arg(root().join("scripts/bench_peer_powertools.py"))
        .args(["--endpoint", endpoint, "--events"])
        .arg(file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e} (run `make bench-peer`, which installs it)", python.display()))?;
    if !output.status.success() {
        return Err(format!("the Powertools half failed: {}", output.status).into());
    }
    let mut peer = Powertools::default();
    for line in String::from_utf8(output.stdout)?.lines() {
        let record: serde_json::Value = serde_json::from_str(line)?;
        match (record.get("path").and_then(|p| p.as_str()), record.get("versions")) {
            (_, Some(versions)) => peer.versions = versions.to_string(),
            (Some("import"), _) => peer.import_ms = record["ms"].as_f64().unwrap_or_default(),
            (Some(path), _) => {
                peer.paths.insert(
                    path.to_owned(),
                    Figures {
                        cpu_us_per_event: record["cpu_us_per_event"].as_f64().unwrap_or_default(),
                        calls_per_event: record["calls_per_event"].as_f64().unwrap_or_default(),
                    },
                );
            }
            _ => return Err(format!("unexpected line from the Powertools half: {line}").into()),
        }
    }
    Ok(peer)
}

fn main() -> TestResult {
    let count: usize = std::env::var("HERALD_PEER_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let endpoint = herald_tests::moto::endpoint();
    let events: Vec<RawEvent> = (0..count)
        .map(|_| fresh_sample("shop.orders/OrderPlaced/v1.sample.json"))
        .collect::<TestResult<_>>()?;
    let file = std::env::temp_dir().join(format!("herald-peer-events-{}.jsonl", std::process::id()));
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for event in &events {
            serde_json::to_writer(&mut out, event.as_value())?;
            out.write_all(b"\n")?;
        }
    }
    let peer = powertools(endpoint, &file);
    std::fs::remove_file(&file)?;
    let peer = peer?;

    // The consumer's metric lines are built but go nowhere, so stdout holds the table only.
    herald::emf::write_to(|_line| {});
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let HeraldSide {
        paths: herald,
        same_calls_bare: same_calls,
        put_and_get: bare,
    } = runtime.block_on(herald_side(&events))?;

    println!("peer benchmark: {count} OrderPlaced events, moto server with keep-alive, one run");
    println!("  Powertools: {}", peer.versions);
    println!("  path        Powertools CPU µs/event  calls   Herald CPU µs/event  calls   Powertools / Herald");
    for (path, ours) in &herald {
        // A buffered batch is compared with Powertools' first delivery of the same events, a
        // derived key's duplicate with its duplicate.
        let theirs_path = match *path {
            "buffered" => "first",
            DERIVED => "duplicate",
            path => path,
        };
        let theirs = peer.paths.get(theirs_path).copied().unwrap_or_default();
        println!(
            "  {path:<10} {:>24.1} {:>6.2} {:>20.1} {:>6.2} {:>20.1}x",
            theirs.cpu_us_per_event,
            theirs.calls_per_event,
            ours.cpu_us_per_event,
            ours.calls_per_event,
            theirs.cpu_us_per_event / ours.cpu_us_per_event.max(1e-9),
        );
    }
    println!(
        "  one bare aws-sdk-dynamodb call, for scale: PutItem {:.1} µs, GetItem {:.1} µs CPU",
        bare.0, bare.1
    );
    for (path, sdk, (median, low, high)) in &same_calls {
        let Some((_, ours)) = herald.iter().find(|(p, _)| p == path) else {
            continue;
        };
        println!(
            "  Herald's own CPU on top of its SDK calls, {path}: {:.1} µs ({:.0}% of the same calls' {sdk:.1} µs, sent bare); per slice: median {median:.0}%, middle half {low:.0}% to {high:.0}%",
            ours.cpu_us_per_event - sdk,
            (ours.cpu_us_per_event - sdk) / sdk * 100.0,
        );
    }
    println!(
        "  Powertools' idempotency import alone: {:.1} ms (a fresh interpreter)",
        peer.import_ms
    );
    Ok(())
}

/// One path's figures: `consumer` handles `events` (each answered `expected`) in [`SLICES`]
/// slices, each followed by the same slice of `requests` (the SDK calls that path makes,
/// recorded) sent bare. Returns Herald's CPU and calls per event and, with `requests`, the bare
/// calls' CPU per event and Herald's own share per slice ([`own_share`]).
async fn measure<D: Function<Error = HandlerError>>(
    path: &str,
    consumer: &Consumer<D>,
    events: &[RawEvent],
    expected: Outcome,
    requests: Option<&[Recorded]>,
    bare_client: &aws_sdk_dynamodb::Client,
    calls: &CallCounter,
) -> TestResult<(Figures, Option<(f64, (f64, f64, f64))>)> {
    calls.reset();
    let (mut ours, mut theirs) = (Duration::ZERO, Duration::ZERO);
    let mut pairs = Vec::with_capacity(SLICES);
    for k in 0..SLICES {
        // Each delivery gets its own copy, as the runtime hands each invocation its payload.
        let copies: Vec<RawEvent> = slice(events, k).to_vec();
        let cpu = ProcessTime::now();
        for raw in copies {
            let guarded = consumer.handle(raw, None).await?;
            if guarded.outcome != expected {
                return Err(format!("{path}: {:?}, expected {expected:?}", guarded.outcome).into());
            }
        }
        let ours_k = cpu.elapsed();
        ours += ours_k;
        if let Some(requests) = requests {
            let slice = slice(requests, k).to_vec();
            let cpu = ProcessTime::now();
            for request in slice {
                request.send(bare_client).await;
            }
            let theirs_k = cpu.elapsed();
            theirs += theirs_k;
            pairs.push((ours_k, theirs_k));
        }
    }
    let figures = Figures {
        cpu_us_per_event: per_event(ours, events.len()),
        calls_per_event: calls.total() as f64 / events.len() as f64,
    };
    Ok((
        figures,
        requests.map(|_| (per_event(theirs, events.len()), own_share(&pairs))),
    ))
}

/// Herald's paths on `events`, each with the CPU (µs per event) of the same SDK calls sent bare,
/// measured in alternating slices; and the CPU of one bare PutItem and GetItem (µs).
async fn herald_side(events: &[RawEvent]) -> TestResult<HeraldSide> {
    let sdk = sdk_config().await;
    let (client, calls) = counted_client(&sdk);
    let table = create_idempotency_table(&client).await?;
    let uncached = Consumer::new(Peer, guard(&client, &table, 0), answer);
    let cached = Consumer::new(Peer, guard(&client, &table, events.len() + 1), answer);
    // One unmeasured event first, so the client's first-call set-up (connection, credentials)
    // is not counted, as the Python half does.
    let warm_up = fresh_sample("shop.orders/OrderPlaced/v1.sample.json")?;
    uncached.handle(warm_up.clone(), None).await?;
    cached.handle(warm_up, None).await?;
    let (recorded, bare_client) = recorded_calls(&sdk, events.len()).await?;
    let mut bare = Vec::new();

    let mut figures = Vec::new();
    for (path, consumer, expected) in [
        ("first", &uncached, Outcome::Claimed),
        ("duplicate", &uncached, Outcome::Duplicate),
        ("cached", &cached, Outcome::Cached),
    ] {
        if path == "cached" {
            // The warm cache: every id completed once through this consumer.
            for event in events {
                consumer.handle(event.clone(), None).await?;
            }
        }
        let requests = recorded.iter().find(|(p, _)| *p == path).map(|(_, r)| r.as_slice());
        let (ours, theirs) = measure(path, consumer, events, expected, requests, &bare_client, &calls).await?;
        figures.push((path, ours));
        bare.extend(theirs.map(|(sdk, shares)| (path, sdk, shares)));
    }
    // The same duplicates through a function whose key is derived from the decoded event (here
    // the event id again, so the records and the calls are the same): decoded before its claim.
    let derived = Consumer::new(PeerDerived, guard(&client, &table, 0), answer_derived);
    let requests = recorded
        .iter()
        .find(|(p, _)| *p == "duplicate")
        .map(|(_, r)| r.as_slice());
    let (ours, theirs) = measure(
        DERIVED,
        &derived,
        events,
        Outcome::Duplicate,
        requests,
        &bare_client,
        &calls,
    )
    .await?;
    figures.push((DERIVED, ours));
    bare.extend(theirs.map(|(sdk, shares)| (DERIVED, sdk, shares)));

    // Buffered: fresh events in SQS batches of ten (claims and completions in one transaction
    // per ten).
    let batches = sqs_batches(events.len())?;
    let requests = recorded
        .iter()
        .find(|(p, _)| *p == "buffered")
        .map(|(_, r)| r.as_slice())
        .unwrap_or_default();
    calls.reset();
    let (mut ours, mut theirs) = (Duration::ZERO, Duration::ZERO);
    let mut pairs = Vec::with_capacity(SLICES);
    for k in 0..SLICES {
        let batches = slice(&batches, k).to_vec();
        let cpu = ProcessTime::now();
        for batch in batches {
            let answer = uncached.handle_batch(batch, Call::default()).await;
            if let Some(item) = answer.outcomes.iter().find(|o| o.outcome != "claimed") {
                return Err(format!("buffered: {item:?}, expected claimed").into());
            }
        }
        let ours_k = cpu.elapsed();
        ours += ours_k;
        let slice = slice(requests, k).to_vec();
        let cpu = ProcessTime::now();
        for request in slice {
            request.send(&bare_client).await;
        }
        let theirs_k = cpu.elapsed();
        theirs += theirs_k;
        pairs.push((ours_k, theirs_k));
    }
    figures.push((
        "buffered",
        Figures {
            cpu_us_per_event: per_event(ours, events.len()),
            calls_per_event: calls.total() as f64 / events.len() as f64,
        },
    ));
    bare.push(("buffered", per_event(theirs, events.len()), own_share(&pairs)));

    // For scale: the bare SDK calls the guard makes, on an item of a record's size.
    let keys: Vec<String> = (0..events.len()).map(|i| format!("bare#{i}")).collect();
    let cpu = ProcessTime::now();
    for key in &keys {
        client
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::S(key.clone()))
            .item("status", AttributeValue::S("COMPLETED".to_owned()))
            .item("expiration", AttributeValue::N("1796631796".to_owned()))
            .item("payload_hash", AttributeValue::S("0".repeat(64)))
            .send()
            .await?;
    }
    let put = per_event(cpu.elapsed(), keys.len());
    let cpu = ProcessTime::now();
    for key in &keys {
        client
            .get_item()
            .table_name(&table)
            .key("id", AttributeValue::S(key.clone()))
            .consistent_read(true)
            .send()
            .await?;
    }
    let get = per_event(cpu.elapsed(), keys.len());
    Ok(HeraldSide {
        paths: figures,
        same_calls_bare: bare,
        put_and_get: (put, get),
    })
}

/// What [`herald_side`] measured.
struct HeraldSide {
    /// Per path, Herald's figures.
    paths: Vec<(&'static str, Figures)>,
    /// Per store path, the CPU (µs per event) of the same SDK calls sent bare, and Herald's own
    /// share on top of them per slice ([`own_share`]: median, first and third quartile, %).
    same_calls_bare: Vec<(&'static str, f64, (f64, f64, f64))>,
    /// One bare PutItem's and GetItem's CPU (µs), for scale.
    put_and_get: (f64, f64),
}
