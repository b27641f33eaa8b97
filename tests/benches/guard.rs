//! Benchmark of the idempotency guard; prints figures, asserts nothing about speed.
//!
//! `make bench-guard` (or `cargo bench -p herald-tests --bench guard`). Measures, in one run:
//! - CPU time per event of the guard itself over the in-memory store (claim + complete,
//!   cache off), against calling the handler directly, and of a cached duplicate;
//! - events per second through the guard against moto server's DynamoDB, per path;
//! - DynamoDB calls per event on each path, counted by an SDK interceptor;
//! - what a consumer's logs and metrics cost per event on the cached-duplicate path: the whole
//!   consumer (decode, guard, span, outcome line, EMF lines) with its JSON logs on, against the
//!   same with no subscriber, plus the EMF lines it writes, built and written on their own.
//!
//! `HERALD_BENCH_EVENTS` scales the in-memory run (default 200000).

use std::time::{Duration, Instant};

use herald::idempotency::{
    BatchItem, DynamoStore, IdempotencyConfig, IdempotencyGuard, Invocation, MemoryStore, Store,
};
use herald::{Call, Envelope, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::{counted_client, create_idempotency_table};
use herald_tests::fixtures::{HandlerError, cancellation, fresh_sample};
use herald_tests::world::{FunctionWorld, Stores};
use shop_events::OrderCancelledV1;

/// User + system CPU time of this process, from /proc (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn events(count: usize) -> TestResult<Vec<Envelope<OrderCancelledV1>>> {
    let template = cancellation()?;
    Ok((0..count)
        .map(|_| {
            let mut event = template.clone();
            event.detail.metadata.event_id = uuid::Uuid::new_v4();
            event
        })
        .collect())
}

async fn handler(event: &Envelope<OrderCancelledV1>) -> Result<usize, HandlerError> {
    Ok(std::hint::black_box(event.data().order_id.len()))
}

async fn through<S: Store>(guard: &IdempotencyGuard<S>, events: &[Envelope<OrderCancelledV1>]) -> TestResult {
    for event in events {
        let invocation = Invocation::of(event, None)?;
        guard.run(invocation, || handler(event)).await?;
    }
    Ok(())
}

fn per_event(total: Duration, count: usize) -> f64 {
    total.as_secs_f64() * 1e6 / count as f64
}

async fn in_memory(count: usize) -> TestResult {
    let events = events(count)?;
    let uncached = IdempotencyConfig {
        cache_capacity: 0,
        ..IdempotencyConfig::new("bench")
    };
    let guard = IdempotencyGuard::new(MemoryStore::new(), uncached);

    let (cpu, wall) = (cpu_time(), Instant::now());
    for event in &events {
        handler(event).await?;
    }
    let direct = (cpu_time() - cpu, wall.elapsed());

    // For scale: decoding the event at the edge, which every consumer does anyway.
    let bytes = serde_json::to_vec(&events[0])?;
    let (cpu, wall) = (cpu_time(), Instant::now());
    for _ in 0..count {
        std::hint::black_box(RawEvent::parse(&bytes)?.decode::<OrderCancelledV1>()?);
    }
    let decode = (cpu_time() - cpu, wall.elapsed());

    let (cpu, wall) = (cpu_time(), Instant::now());
    through(&guard, &events).await?;
    let guarded = (cpu_time() - cpu, wall.elapsed());

    let cached_guard = IdempotencyGuard::new(MemoryStore::new(), IdempotencyConfig::new("bench"));
    let warm = &events[..events.len().min(1000)];
    through(&cached_guard, warm).await?;
    let rounds = count / warm.len().max(1);
    let (cpu, wall) = (cpu_time(), Instant::now());
    for _ in 0..rounds {
        through(&cached_guard, warm).await?;
    }
    let cached = (cpu_time() - cpu, wall.elapsed());

    println!("in-memory store, {count} events, current-thread runtime");
    println!("  path                         CPU µs/event   wall µs/event");
    println!(
        "  handler alone                {:>12.2}   {:>13.2}",
        per_event(direct.0, count),
        per_event(direct.1, count)
    );
    println!(
        "  envelope decode (for scale)  {:>12.2}   {:>13.2}",
        per_event(decode.0, count),
        per_event(decode.1, count)
    );
    println!(
        "  first delivery (guarded)     {:>12.2}   {:>13.2}",
        per_event(guarded.0, count),
        per_event(guarded.1, count)
    );
    println!(
        "  cached duplicate             {:>12.2}   {:>13.2}",
        per_event(cached.0, rounds * warm.len()),
        per_event(cached.1, rounds * warm.len())
    );
    println!(
        "  guard overhead, first delivery: {:.2} µs CPU per event, {:.1}x the envelope decode",
        per_event(guarded.0.saturating_sub(direct.0), count),
        guarded.1.saturating_sub(direct.1).as_secs_f64() / decode.1.as_secs_f64().max(1e-9)
    );
    Ok(())
}

async fn against_moto() -> TestResult {
    let sdk = sdk_config().await;
    let (client, calls) = counted_client(&sdk);
    let table = create_idempotency_table(&client).await?;
    let uncached = IdempotencyConfig {
        cache_capacity: 0,
        ..IdempotencyConfig::new("bench")
    };
    let guard = IdempotencyGuard::new(DynamoStore::new(client.clone(), table.clone()), uncached);
    let cached = IdempotencyGuard::new(DynamoStore::new(client, table), IdempotencyConfig::new("bench-cached"));
    let count = 300;
    let fresh = events(count)?;

    println!("\nmoto server DynamoDB, {count} events, sequential");
    println!("  path                         events/s   DynamoDB calls/event");
    let row = |name: &str, wall: Duration, n: usize, calls_seen: usize| {
        println!(
            "  {name:<28} {:>8.0}   {:>20.2}",
            n as f64 / wall.as_secs_f64(),
            calls_seen as f64 / n as f64
        );
    };

    calls.reset();
    let start = Instant::now();
    through(&guard, &fresh).await?;
    row("first delivery", start.elapsed(), count, calls.total());

    calls.reset();
    let start = Instant::now();
    through(&guard, &fresh).await?;
    row("duplicate (store)", start.elapsed(), count, calls.total());

    through(&cached, &fresh).await?;
    calls.reset();
    let start = Instant::now();
    through(&cached, &fresh).await?;
    row("duplicate (warm cache)", start.elapsed(), count, calls.total());

    let batch_events = events(count)?;
    calls.reset();
    let start = Instant::now();
    for chunk in batch_events.chunks(10) {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, event)| {
                Ok(BatchItem {
                    item_id: i.to_string(),
                    invocation: Invocation::of(event, None)?,
                    event: event.clone(),
                })
            })
            .collect::<TestResult<Vec<_>>>()?;
        let report = guard
            .run_batch(items, |event| async move { handler(&event).await })
            .await;
        if !report.response().batch_item_failures.is_empty() {
            return Err("a fresh batch reported failures".into());
        }
    }
    row("batch of 10 fresh", start.elapsed(), count, calls.total());
    Ok(())
}

/// A Lambda invocation's call, as production gives it: a request id and a trace header.
fn call() -> Call {
    Call {
        request_id: Some("8f5e7c1a-2b3d-4e6f-9a0b-1c2d3e4f5a6b".to_owned()),
        deadline_ms: None,
        trace_header: Some("Root=1-6752a1f0-3c5d7e9f1a2b4c6d8e0f1a2b;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()),
        function_arn: None,
    }
}

/// The consumer's logging and metrics on the cached-duplicate path (order-history, in-memory
/// stores): CPU per event with the JSON subscriber on (written to a sink, so no write syscall is
/// counted), with no subscriber, and of the EMF lines alone.
async fn telemetry(count: usize) -> TestResult {
    // Every metric line goes to a sink that keeps only a byte count, so nothing floods stdout.
    static EMF_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    herald::emf::write_to(|line| {
        EMF_BYTES.fetch_add(line.len() + 1, std::sync::atomic::Ordering::Relaxed);
    });
    let world = FunctionWorld::<order_history::handler::Deps>::new(
        Stores::Memory,
        order_history::handler::handle,
        // The default cache, as a deployed function has it (the world turns it off).
        &[("IDEMPOTENCY_CACHE_CAPACITY", "1024")],
    )
    .await?;
    let consumer = world.consumer;
    let warm: Vec<RawEvent> = (0..1000)
        .map(|_| fresh_sample("shop.orders/OrderCancelled/v1.sample.json"))
        .collect::<TestResult<_>>()?;
    for raw in &warm {
        consumer.handle_call(raw.clone(), call()).await?;
    }
    let rounds = (count / warm.len()).max(1);
    let deliveries = rounds * warm.len();
    let quiet = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let json = tracing::Dispatch::new(herald::telemetry::subscriber(
        herald::telemetry::filter(|_| None),
        std::io::sink,
    ));
    // Round after round, the same warm events without logs and then with them, side by side,
    // so the machine's drift falls on both alike. Each round's CPU time is this thread's own
    // (clock_gettime, nanoseconds), and the figures are the medians over the rounds, so a burst
    // of load from a neighbour on this shared machine moves neither.
    let (mut without_logs, mut with_logs) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (dispatch, per_round) in [(&quiet, &mut without_logs), (&json, &mut with_logs)] {
            let _default = tracing::dispatcher::set_default(dispatch);
            let cpu = cpu_time::ThreadTime::now();
            for raw in &warm {
                let guarded = consumer.handle_call(raw.clone(), call()).await?;
                if guarded.outcome != herald::idempotency::Outcome::Cached {
                    return Err(format!("not cached: {:?}", guarded.outcome).into());
                }
            }
            per_round.push(cpu.elapsed());
        }
    }
    let (quiet, logged) = (
        median(&mut without_logs) * rounds as u32,
        median(&mut with_logs) * rounds as u32,
    );

    let now = chrono::Utc::now().timestamp_millis();
    let none_recorded = std::collections::BTreeMap::new();
    let cpu = cpu_time::ThreadTime::now();
    for _ in 0..deliveries {
        for line in herald::emf::invocation_lines(
            "order-history",
            "OrderCancelled",
            "cached",
            0.012,
            false,
            &none_recorded,
            now,
        ) {
            herald::emf::emit(&line);
        }
    }
    let metrics = cpu.elapsed();

    let logging = per_event(logged.saturating_sub(quiet), deliveries);
    let emf = per_event(metrics, deliveries);
    println!(
        "consumer on the cached-duplicate path (order-history, in-memory), {deliveries} deliveries \
         (thread CPU, median of {rounds} rounds of {})",
        warm.len()
    );
    println!("  path                                     CPU µs/event");
    println!(
        "  consumer, no log subscriber            {:>12.2}",
        per_event(quiet, deliveries)
    );
    println!(
        "  consumer, JSON logs (to a sink)        {:>12.2}",
        per_event(logged, deliveries)
    );
    println!("  EMF lines alone (built and written)    {:>12.2}", emf);
    println!(
        "  logging + metrics per event: {:.2} µs CPU (target < 5); {} EMF bytes written",
        logging + emf,
        EMF_BYTES.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(())
}

/// The middle of `durations` (sorted in place).
fn median(durations: &mut [Duration]) -> Duration {
    durations.sort_unstable();
    durations.get(durations.len() / 2).copied().unwrap_or_default()
}

fn main() -> TestResult {
    let count = std::env::var("HERALD_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        in_memory(count).await?;
        telemetry(count / 4).await?;
        against_moto().await
    })
}
