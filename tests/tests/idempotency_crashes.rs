//! The idempotency guard under races and crashes, against moto server's DynamoDB, with the
//! in-memory store held to the same rules.
//!
//! What it proves:
//! - Fifty concurrent deliveries of one event run the handler once; every other delivery gets
//!   the first result or a retryable `AlreadyInProgress`.
//! - An invocation that dies (a) right after its claim, (b) inside the handler, or (c) after the
//!   handler returned but before the completion was written loses no event: a redelivery before
//!   the lease passes is told `AlreadyInProgress` (retryable), one after it runs the handler
//!   again, and the record ends COMPLETED. Exactly one completion is ever written, it holds the
//!   result of the run that wrote it, and the handler runs again only after a crash that
//!   happened once it had started (runs = 1 + crashes of kind b or c).
//! - A holder that is still alive but whose lease passed is taken over, and its late completion
//!   is refused (conditional on its claim token), so the record keeps the new owner's result.
//!
//! Crashes are exact, not timed: a test-local store wrapper, [`CrashingStore`], stops the
//! invocation at the chosen write and tells the test, which aborts the invocation's task there;
//! a crash inside the handler is the handler telling the test it started, then never finishing.
//! moto server does not apply concurrent conditional writes atomically as DynamoDB does, so the
//! concurrency test orders the store's writes the way DynamoDB would (see [`OneWriteAtATime`]).
//!
//! Randomized schedules: each run draws 200 schedules on DynamoDB and 500 in memory from a
//! seed printed with every failure. Set `HERALD_CRASH_SCHEDULES=<n>` to run n schedules on each
//! store instead (longer runs), and `HERALD_CRASH_SEED=<seed>` to start from a given seed; a
//! failure prints the pair that replays exactly the failing schedule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use herald::idempotency::{
    Claim, ClaimCondition, Clock, DynamoStore, GuardError, Guarded, IdempotencyConfig, IdempotencyGuard, Invocation,
    ManualClock, MemoryStore, Outcome, Record, Status, Store, StoreError, Update,
};
use herald::{Classify, Envelope};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::{counted_client, create_idempotency_table};
use herald_tests::fixtures::{HandlerError, cancellation};
use shop_events::OrderCancelledV1;
use tokio::sync::{Barrier, Notify, oneshot};

const START_MS: i64 = 1_800_000_000_000;

/// Schedules per test run when `HERALD_CRASH_SCHEDULES` is not set.
const DYNAMODB_SCHEDULES: usize = 200;
const MEMORY_SCHEDULES: usize = 500;

/// Deliveries of one event in a schedule; the last one never crashes.
const MAX_DELIVERIES: usize = 4;

/// Fails the current schedule with a message; the caller adds the seed and the schedule.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+).into());
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_deliveries_of_one_event_run_the_handler_once() -> TestResult {
    // Given a guard on DynamoDB with its default configuration (cache on), and a handler that
    // takes a few milliseconds and counts its runs
    let sdk = sdk_config().await;
    let (client, calls) = counted_client(&sdk);
    let table = create_idempotency_table(&client).await?;
    let clock = ManualClock::at(START_MS);
    let guard = IdempotencyGuard::with_clock(
        OneWriteAtATime::new(DynamoStore::new(client, table)),
        IdempotencyConfig::new("inventory"),
        Arc::new(clock.clone()),
    );
    let event = cancellation()?;
    let runs = Arc::new(AtomicU32::new(0));
    const DELIVERIES: usize = 50;
    let start = Arc::new(Barrier::new(DELIVERIES));
    calls.reset();

    // When fifty invocations receive the event at the same moment
    let tasks = (0..DELIVERIES)
        .map(|_| {
            let (guard, runs, start) = (guard.clone(), Arc::clone(&runs), Arc::clone(&start));
            let invocation = Invocation::of(&event, Some(clock.now_ms() + 30_000))?;
            Ok(tokio::spawn(async move {
                start.wait().await;
                guard
                    .run(invocation, move || async move {
                        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Ok::<_, HandlerError>(run)
                    })
                    .await
            }))
        })
        .collect::<TestResult<Vec<_>>>()?;
    let mut answers = Vec::with_capacity(DELIVERIES);
    for task in tasks {
        answers.push(task.await?);
    }

    // Then the handler ran once, and every other delivery got its result or was told to retry
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "handler runs; answers: {answers:?}; calls: {:?}",
        calls.by_operation()
    );
    let mut ran = 0;
    for answer in &answers {
        match answer {
            Ok(Guarded {
                outcome: Outcome::Claimed,
                result: Some(1),
            }) => ran += 1,
            Ok(Guarded {
                outcome: Outcome::Duplicate | Outcome::Cached,
                result: Some(1),
            }) => {}
            Err(error @ GuardError::AlreadyInProgress { .. }) if error.is_retryable() => {}
            other => return Err(format!("unexpected answer to a concurrent delivery: {other:?}").into()),
        }
    }
    assert_eq!(ran, 1, "exactly one delivery is the run itself: {answers:?}");
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    let stored = guard.store().get(&key).await?.ok_or("the event has no record")?;
    assert_eq!(
        (stored.status, stored.result.as_deref()),
        (Status::Completed, Some("1"))
    );
    let by_operation = calls.by_operation();
    assert_eq!(
        by_operation.get("UpdateItem"),
        Some(&1),
        "one completion: {by_operation:?}"
    );
    assert!(
        by_operation.get("PutItem").is_some_and(|puts| *puts <= DELIVERIES),
        "{by_operation:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_each_point_is_recovered_by_one_redelivery_after_the_lease() -> TestResult {
    // Given one schedule per crash point, each with an early retry while the lease runs
    let bench = Bench::new(dynamo_store().await?);
    let schedules = [Crash::AfterClaim, Crash::InHandler, Crash::BeforeCompletion].map(|crash| Schedule {
        seed: None,
        deliveries: vec![
            Delivery {
                crash,
                deadline_in_ms: 10_000,
                early_retry_at_permille: None,
                past_lease_by_ms: 0,
            },
            Delivery {
                crash: Crash::None,
                deadline_in_ms: 10_000,
                early_retry_at_permille: Some(1_000),
                past_lease_by_ms: 1,
            },
        ],
    });

    // When each is played: a crash, a retry at the very end of the lease, a retry just after it
    // Then every one ends COMPLETED by the redelivery, with one completion written
    for (index, schedule) in schedules.iter().enumerate() {
        bench
            .play(schedule)
            .await
            .map_err(|error| failure("DynamoDB", index, schedule, &*error))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_crash_schedules_on_dynamodb_lose_no_event_and_record_one_completion() -> TestResult {
    // Given a guard on a fresh DynamoDB table, shared by every schedule (each has its own event)
    let bench = Bench::new(dynamo_store().await?);

    // When randomly drawn schedules of crashes, early retries and redeliveries are played
    // Then each one ends with its event COMPLETED by exactly one run (checked by `Bench::play`)
    let played = bench.play_random("DynamoDB", DYNAMODB_SCHEDULES).await?;

    // And every crash point and early retries were exercised
    assert!(played.covers_every_case(), "{played:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_crash_schedules_in_memory_hold_the_same_guarantees() -> TestResult {
    // Given a guard on the in-memory store
    let bench = Bench::new(MemoryStore::new());

    // When the same kind of schedules are played
    // Then the same rules hold as on DynamoDB
    let played = bench.play_random("memory", MEMORY_SCHEDULES).await?;
    assert!(played.covers_every_case(), "{played:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_holder_whose_lease_passed_is_taken_over_and_its_late_completion_is_refused() -> TestResult {
    late_completion_against_a_takeover(LateCompletion::AfterTheNewOwnerCompleted).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_completion_while_the_new_owner_still_runs_is_refused() -> TestResult {
    late_completion_against_a_takeover(LateCompletion::WhileTheNewOwnerRuns).await
}

/// When the slow first holder's handler returns, relative to the new owner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LateCompletion {
    AfterTheNewOwnerCompleted,
    WhileTheNewOwnerRuns,
}

async fn late_completion_against_a_takeover(late_completion: LateCompletion) -> TestResult {
    // Given a first delivery whose handler started and is still working when its lease passes
    let Bench { guard, clock } = Bench::new(dynamo_store().await?);
    let event = cancellation()?;
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    let runs = Arc::new(AtomicU32::new(0));
    let slow = GatedDelivery::start(&guard, Invocation::of(&event, Some(clock.now_ms() + 10_000))?, &runs).await;
    let slow_claim = guard
        .store()
        .claims(&key)
        .last()
        .cloned()
        .ok_or("the first delivery claimed nothing")?;
    let held = guard.store().get(&key).await?.ok_or("the first claim has no record")?;
    advance_to(&clock, held.lease_until + 1)?;

    // When a redelivery takes over and runs, and the first delivery's handler returns either
    // after the new owner completed or while it still runs
    let owner = GatedDelivery::start(&guard, Invocation::of(&event, Some(clock.now_ms() + 10_000))?, &runs).await;
    let new_claim = guard
        .store()
        .claims(&key)
        .last()
        .cloned()
        .ok_or("the redelivery claimed nothing")?;
    let (takeover, late) = match late_completion {
        LateCompletion::AfterTheNewOwnerCompleted => {
            let takeover = owner.finish().await?;
            (takeover, slow.finish().await?)
        }
        LateCompletion::WhileTheNewOwnerRuns => {
            let late = slow.finish().await?;
            (owner.finish().await?, late)
        }
    };

    // Then the redelivery took over and completed, the late completion was refused, and the
    // record keeps the new owner's result: exactly one completion was recorded
    assert_ne!(slow_claim, new_claim);
    assert_eq!(
        takeover,
        Guarded {
            outcome: Outcome::ExpiredTakeover,
            result: Some(2)
        }
    );
    let completions = guard.store().completions(&key);
    let done: Vec<_> = completions
        .iter()
        .filter(|(_, update)| *update == Update::Done)
        .collect();
    assert_eq!(done.len(), 1, "{completions:?}");
    assert_eq!(
        (done[0].0.claim_token.as_str(), done[0].0.result.as_deref()),
        (new_claim.as_str(), Some("2"))
    );
    let (_, refused) = completions
        .iter()
        .find(|(record, _)| record.claim_token == slow_claim)
        .ok_or("the slow holder never tried to complete")?;
    let held_then = match late_completion {
        LateCompletion::AfterTheNewOwnerCompleted => Status::Completed,
        LateCompletion::WhileTheNewOwnerRuns => Status::InProgress,
    };
    match refused {
        Update::Lost(Some(current)) => {
            assert_eq!(
                (current.claim_token.as_str(), current.status),
                (new_claim.as_str(), held_then)
            );
        }
        other => return Err(format!("the late completion must be Lost to the new owner, got {other:?}").into()),
    }
    let stored = guard.store().get(&key).await?.ok_or("the event has no record")?;
    assert_eq!(
        (stored.status, stored.claim_token.as_str(), stored.result.as_deref()),
        (Status::Completed, new_claim.as_str(), Some("2"))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the slow run and the takeover");

    // And the slow run's caller still gets its own result (its effects happened; the guard only
    // logs the lost completion), while a later duplicate gets the recorded one
    assert_eq!(
        late,
        Guarded {
            outcome: Outcome::Claimed,
            result: Some(1)
        }
    );
    let duplicate = guard
        .run(Invocation::of(&event, Some(clock.now_ms() + 10_000))?, || async {
            Ok::<_, HandlerError>(runs.fetch_add(1, Ordering::SeqCst) + 1)
        })
        .await?;
    assert_eq!(
        duplicate,
        Guarded {
            outcome: Outcome::Duplicate,
            result: Some(2)
        }
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    Ok(())
}

/// A delivery whose handler counts its run and then waits, alive, until the test lets it return.
struct GatedDelivery {
    task: tokio::task::JoinHandle<Result<Guarded<u32>, GuardError<HandlerError>>>,
    gate: Arc<Notify>,
}

impl GatedDelivery {
    /// Starts the delivery and returns once its handler runs (so its claim is written).
    async fn start<S: Store>(
        guard: &IdempotencyGuard<CrashingStore<S>>,
        invocation: Invocation,
        runs: &Arc<AtomicU32>,
    ) -> Self {
        let (started, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let task = tokio::spawn({
            let (guard, runs, started, gate) =
                (guard.clone(), Arc::clone(runs), Arc::clone(&started), Arc::clone(&gate));
            async move {
                guard
                    .run(invocation, move || async move {
                        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        started.notify_one();
                        gate.notified().await;
                        Ok::<_, HandlerError>(run)
                    })
                    .await
            }
        });
        started.notified().await;
        Self { task, gate }
    }

    /// Lets the handler return and waits for the delivery's answer.
    async fn finish(self) -> TestResult<Guarded<u32>> {
        self.gate.notify_one();
        Ok(self.task.await??)
    }
}

// ---------------------------------------------------------------------------------------------
// Stores around the real one
// ---------------------------------------------------------------------------------------------

/// A [`Store`] whose writes reach `inner` one at a time, as DynamoDB applies conditional writes
/// to one item. moto server serves requests on parallel threads and checks a `PutItem`'s
/// condition apart from writing the item (`moto/dynamodb/models/table.py`, `Table::put_item`),
/// so two concurrent claims can both find no record and both win there — about once in fifteen
/// runs of fifty deliveries. DynamoDB never lets that happen, and the guard relies on it; the
/// deliveries, the guard and its cache stay fully concurrent.
struct OneWriteAtATime<S> {
    inner: S,
    turn: tokio::sync::Mutex<()>,
}

impl<S: Store> OneWriteAtATime<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl<S: Store> Store for OneWriteAtATime<S> {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, record: &Record, condition: &ClaimCondition) -> Result<Claim, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.put(record, condition).await
    }

    async fn update(&self, record: &Record) -> Result<Update, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.update(record).await
    }

    async fn delete(&self, key: &str, claim_token: &str) -> Result<Update, StoreError> {
        let _turn = self.turn.lock().await;
        self.inner.delete(key, claim_token).await
    }
}

// ---------------------------------------------------------------------------------------------
// Crash injection
// ---------------------------------------------------------------------------------------------

/// Where a delivery dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Crash {
    /// It does not: it answers.
    None,
    /// (a) Right after its claim was written, before the handler starts.
    AfterClaim,
    /// (b) Inside the handler, after its side effect started, before it returns.
    InHandler,
    /// (c) After the handler returned, before the completion is written.
    BeforeCompletion,
}

impl Crash {
    const ALL: [Self; 4] = [Self::None, Self::AfterClaim, Self::InHandler, Self::BeforeCompletion];

    /// True when the handler ran (its side effect happened) before the crash.
    fn after_handler_started(self) -> bool {
        matches!(self, Self::InHandler | Self::BeforeCompletion)
    }
}

/// A [`Store`] that delegates to `inner`, logs every claim and completion, and can stop an
/// invocation for good at a chosen write: it tells the test, then never returns, so the test
/// aborts the invocation's task exactly there.
struct CrashingStore<S> {
    inner: S,
    /// Per record key, the crash armed for the next invocation on it and whom to tell.
    armed: Mutex<HashMap<String, (Crash, oneshot::Sender<()>)>>,
    /// Per record key, the tokens of the claims written, in order.
    claims: Mutex<HashMap<String, Vec<String>>>,
    /// Per record key, the COMPLETED updates tried and what the store answered, in order.
    completions: Mutex<HashMap<String, Vec<(Record, Update)>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: Store> CrashingStore<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            armed: Mutex::default(),
            claims: Mutex::default(),
            completions: Mutex::default(),
        }
    }

    /// The next invocation on `key` stops at `crash` (a store crash: after the claim or before
    /// the completion) and sends on `reached` when it gets there.
    fn arm(&self, key: &str, crash: Crash, reached: oneshot::Sender<()>) {
        lock(&self.armed).insert(key.to_owned(), (crash, reached));
    }

    fn disarm(&self, key: &str) {
        lock(&self.armed).remove(key);
    }

    /// The claim tokens written for `key`, in order.
    fn claims(&self, key: &str) -> Vec<String> {
        lock(&self.claims).get(key).cloned().unwrap_or_default()
    }

    /// The COMPLETED updates tried for `key` and what the store answered, in order.
    fn completions(&self, key: &str) -> Vec<(Record, Update)> {
        lock(&self.completions).get(key).cloned().unwrap_or_default()
    }

    /// Dies here if `crash` is armed for `key`: tells the test, then never returns.
    async fn crash_if_armed(&self, key: &str, crash: Crash) {
        let reached = {
            let mut armed = lock(&self.armed);
            match armed.remove(key) {
                Some((armed_crash, reached)) if armed_crash == crash => Some(reached),
                Some(other) => {
                    armed.insert(key.to_owned(), other);
                    None
                }
                None => None,
            }
        };
        if let Some(reached) = reached {
            // The test holds the receiver until it has aborted this task.
            reached.send(()).ok();
            std::future::pending::<()>().await;
        }
    }
}

impl<S: Store> Store for CrashingStore<S> {
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        self.inner.get(key).await
    }

    async fn put(&self, record: &Record, condition: &ClaimCondition) -> Result<Claim, StoreError> {
        let claim = self.inner.put(record, condition).await?;
        if matches!(claim, Claim::Claimed { .. }) {
            lock(&self.claims)
                .entry(record.key.clone())
                .or_default()
                .push(record.claim_token.clone());
            self.crash_if_armed(&record.key, Crash::AfterClaim).await;
        }
        Ok(claim)
    }

    async fn update(&self, record: &Record) -> Result<Update, StoreError> {
        if record.status != Status::Completed {
            return self.inner.update(record).await;
        }
        self.crash_if_armed(&record.key, Crash::BeforeCompletion).await;
        let update = self.inner.update(record).await?;
        lock(&self.completions)
            .entry(record.key.clone())
            .or_default()
            .push((record.clone(), update.clone()));
        Ok(update)
    }

    async fn delete(&self, key: &str, claim_token: &str) -> Result<Update, StoreError> {
        self.inner.delete(key, claim_token).await
    }
}

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/// A small xorshift64* generator: `fastrand` is not a dependency of this crate, and a schedule
/// must be reproducible from its printed seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1).unsigned_abs()) as i64
    }
}

/// SplitMix64: scrambles a seed, and steps from one schedule's seed to the next.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One delivery of the schedule's event.
#[derive(Debug, Clone)]
struct Delivery {
    /// Where it dies, if it does.
    crash: Crash,
    /// Its deadline, from the clock at delivery; its lease ends the lease margin (1 s) earlier.
    deadline_in_ms: i64,
    /// For a redelivery: first retry this far (per mille) into what is left of the crashed
    /// claim's lease, 1000 being its last millisecond; that retry must be told to wait.
    early_retry_at_permille: Option<i64>,
    /// For a redelivery: deliver this long after the crashed claim's lease ended.
    past_lease_by_ms: i64,
}

/// The deliveries of one event, until one does not crash.
#[derive(Debug, Clone)]
struct Schedule {
    /// The seed it was drawn from, if it was drawn.
    seed: Option<u64>,
    deliveries: Vec<Delivery>,
}

impl Schedule {
    fn draw(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut deliveries: Vec<Delivery> = Vec::new();
        loop {
            let first = deliveries.is_empty();
            let crash = if deliveries.len() + 1 == MAX_DELIVERIES {
                Crash::None
            } else {
                Crash::ALL[rng.below(4) as usize]
            };
            let early_retry_at_permille = match rng.below(4) {
                _ if first => None,
                0 => Some(1_000),
                1 => Some(rng.between(0, 999)),
                _ => None,
            };
            let past_lease_by_ms = match rng.below(3) {
                _ if first => 0,
                0 => 1,
                _ => rng.between(2, 5_000),
            };
            deliveries.push(Delivery {
                crash,
                deadline_in_ms: rng.between(2_000, 30_000),
                early_retry_at_permille,
                past_lease_by_ms,
            });
            if crash == Crash::None {
                return Self {
                    seed: Some(seed),
                    deliveries,
                };
            }
        }
    }

    fn crashes_after_handler_started(&self) -> u32 {
        let crashes = self
            .deliveries
            .iter()
            .filter(|d| d.crash.after_handler_started())
            .count();
        u32::try_from(crashes).unwrap_or(u32::MAX)
    }
}

/// What a run of random schedules covered.
#[derive(Debug, Default)]
struct Played {
    schedules: usize,
    deliveries: usize,
    early_retries: usize,
    crashes: HashMap<Crash, usize>,
}

impl Played {
    /// True when every crash point and early retries came up, or too few schedules ran to
    /// expect it (a replay of one); in 100 schedules, one case is missed with odds below 1e-12.
    fn covers_every_case(&self) -> bool {
        let crashed = |crash| self.crashes.get(&crash).is_some_and(|n| *n > 0);
        self.schedules < 100
            || (crashed(Crash::AfterClaim)
                && crashed(Crash::InHandler)
                && crashed(Crash::BeforeCompletion)
                && self.early_retries > 0)
    }
}

/// A failed schedule. Its `Debug` form, which the test harness prints, is the plain message.
struct ScheduleFailed(String);

impl std::fmt::Debug for ScheduleFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for ScheduleFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleFailed {}

/// The error of a failed schedule, with what it takes to replay it.
fn failure(
    store: &str,
    index: usize,
    schedule: &Schedule,
    error: &(dyn std::error::Error + Send + Sync),
) -> ScheduleFailed {
    let replay = match schedule.seed {
        Some(seed) => format!("replay: HERALD_CRASH_SEED={seed} HERALD_CRASH_SCHEDULES=1"),
        None => "a fixed schedule".to_owned(),
    };
    ScheduleFailed(format!(
        "{store} schedule #{index} failed: {error}\n  {replay}\n  schedule: {schedule:#?}"
    ))
}

fn env_number(name: &str) -> TestResult<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(text.trim().parse().map_err(|e| format!("{name}={text:?}: {e}"))?)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(error) => Err(format!("{name}: {error}").into()),
    }
}

fn first_seed() -> TestResult<u64> {
    if let Some(seed) = env_number("HERALD_CRASH_SEED")? {
        return Ok(seed);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(splitmix(
        now.as_secs() ^ u64::from(now.subsec_nanos()).rotate_left(32) ^ u64::from(std::process::id()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Playing schedules
// ---------------------------------------------------------------------------------------------

/// A guard over a crashing store, with a clock the schedules move.
struct Bench<S> {
    guard: IdempotencyGuard<CrashingStore<S>>,
    clock: ManualClock,
}

/// How a delivery ended.
#[derive(Debug)]
enum Delivered {
    /// It reached its crash point and its task was aborted there.
    Crashed,
    /// It answered.
    Answered(Result<Guarded<u32>, GuardError<HandlerError>>),
}

async fn dynamo_store() -> TestResult<DynamoStore> {
    let sdk = sdk_config().await;
    let (client, _) = counted_client(&sdk);
    let table = create_idempotency_table(&client).await?;
    Ok(DynamoStore::new(client, table))
}

fn advance_to(clock: &ManualClock, at_ms: i64) -> TestResult {
    let by = at_ms - clock.now_ms();
    clock.advance(Duration::from_millis(
        u64::try_from(by).map_err(|_| format!("the clock cannot go back by {by} ms"))?,
    ));
    Ok(())
}

impl<S: Store> Bench<S> {
    /// The cache is off, so every answer after a crash comes from the store.
    fn new(store: S) -> Self {
        let clock = ManualClock::at(START_MS);
        let config = IdempotencyConfig {
            cache_capacity: 0,
            ..IdempotencyConfig::new("inventory")
        };
        let guard = IdempotencyGuard::with_clock(CrashingStore::new(store), config, Arc::new(clock.clone()));
        Self { guard, clock }
    }

    /// Plays `count` schedules (or `HERALD_CRASH_SCHEDULES`) drawn from one seed, one after
    /// another (they share the clock).
    async fn play_random(&self, store: &str, count: usize) -> TestResult<Played> {
        let count = match env_number("HERALD_CRASH_SCHEDULES")? {
            Some(n) => usize::try_from(n)?,
            None => count,
        };
        let mut seed = first_seed()?;
        eprintln!("{store}: {count} crash schedules from HERALD_CRASH_SEED={seed}");
        let mut played = Played::default();
        for index in 0..count {
            let schedule = Schedule::draw(seed);
            self.play(&schedule)
                .await
                .map_err(|error| failure(store, index, &schedule, &*error))?;
            played.schedules += 1;
            played.deliveries += schedule.deliveries.len();
            for delivery in &schedule.deliveries {
                *played.crashes.entry(delivery.crash).or_default() += 1;
                played.early_retries += usize::from(delivery.early_retry_at_permille.is_some());
            }
            seed = splitmix(seed);
        }
        eprintln!("{store}: {played:?}");
        Ok(played)
    }

    /// Plays one schedule on a fresh event and checks every rule.
    async fn play(&self, schedule: &Schedule) -> TestResult {
        let Self { guard, clock } = self;
        let event = cancellation()?;
        let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
        let runs = Arc::new(AtomicU32::new(0));
        let lease_margin = i64::try_from(guard.config().lease_margin.as_millis())?;
        let mut answer = None;
        for (n, delivery) in schedule.deliveries.iter().enumerate() {
            if n > 0 {
                let held = self.held_by_crashed_claim(&key).await?;
                if let Some(permille) = delivery.early_retry_at_permille {
                    let left = held.lease_until - clock.now_ms();
                    ensure!(
                        left >= 0,
                        "delivery {n}: the crashed claim's lease passed already ({left} ms)"
                    );
                    advance_to(clock, clock.now_ms() + left * permille / 1_000)?;
                    let early = self
                        .deliver(&event, delivery.deadline_in_ms, Crash::None, &runs)
                        .await?;
                    let told_to_wait = matches!(
                        &early,
                        Delivered::Answered(Err(error @ GuardError::AlreadyInProgress { lease_until, .. }))
                            if *lease_until == held.lease_until && error.is_retryable()
                    );
                    ensure!(
                        told_to_wait,
                        "delivery {n}: a retry at {} while the lease runs until {} must get a retryable \
                         AlreadyInProgress; got {early:?}",
                        clock.now_ms(),
                        held.lease_until
                    );
                }
                advance_to(clock, held.lease_until + delivery.past_lease_by_ms)?;
            }
            let deadline = clock.now_ms() + delivery.deadline_in_ms;
            match (
                delivery.crash,
                self.deliver(&event, delivery.deadline_in_ms, delivery.crash, &runs)
                    .await?,
            ) {
                (Crash::None, Delivered::Answered(Ok(guarded))) => {
                    let expected = if n == 0 {
                        Outcome::Claimed
                    } else {
                        Outcome::ExpiredTakeover
                    };
                    ensure!(
                        guarded.outcome == expected,
                        "delivery {n}: outcome {guarded:?}, expected {expected}"
                    );
                    answer = Some(guarded);
                }
                (_, Delivered::Crashed) => {
                    let held = self.held_by_crashed_claim(&key).await?;
                    ensure!(
                        held.lease_until == deadline - lease_margin,
                        "delivery {n}: the lease must end {lease_margin} ms before the deadline {deadline}: {held:?}"
                    );
                }
                (crash, Delivered::Answered(other)) => {
                    return Err(format!("delivery {n} (crash: {crash:?}) answered {other:?}").into());
                }
            }
        }

        // No event lost: a delivery answered, and the record is COMPLETED with that run's result.
        let Some(Guarded {
            result: Some(result), ..
        }) = answer
        else {
            return Err(format!("no delivery answered with a result: {answer:?}").into());
        };
        let stored = guard.store().get(&key).await?.ok_or("the event has no record")?;
        let result_json = serde_json::to_string(&result)?;
        ensure!(
            stored.status == Status::Completed && stored.result.as_deref() == Some(result_json.as_str()),
            "the record must be COMPLETED with the answered result {result}: {stored:?}"
        );

        // Exactly one completion written, by the last claim, holding the result of its own run.
        let claims = guard.store().claims(&key);
        ensure!(
            claims.len() == schedule.deliveries.len(),
            "one claim per delivery: {claims:?}"
        );
        let completions = guard.store().completions(&key);
        let written: Vec<_> = completions
            .iter()
            .filter(|(_, update)| *update == Update::Done)
            .collect();
        ensure!(
            written.len() == 1,
            "exactly one completion must be written: {completions:?}"
        );
        let (completion, _) = written[0];
        ensure!(
            claims.last() == Some(&completion.claim_token) && stored.claim_token == completion.claim_token,
            "the completion must be the last claim's: {completion:?}, claims {claims:?}"
        );
        ensure!(
            stored.result == completion.result,
            "the stored result must be the completing run's"
        );

        // Handler runs repeat only after crashes once the handler had started.
        let ran = runs.load(Ordering::SeqCst);
        let expected = 1 + schedule.crashes_after_handler_started();
        ensure!(ran == expected, "the handler ran {ran} times, expected {expected}");
        ensure!(
            result == ran,
            "the completing run is the last one: result {result}, runs {ran}"
        );

        // And a later duplicate is answered from the record, without running.
        let duplicate = self.deliver(&event, 10_000, Crash::None, &runs).await?;
        ensure!(
            matches!(&duplicate, Delivered::Answered(Ok(Guarded { outcome: Outcome::Duplicate, result: Some(r) })) if *r == result),
            "a later duplicate must get the stored result {result}: {duplicate:?}"
        );
        ensure!(runs.load(Ordering::SeqCst) == ran, "a duplicate ran the handler");
        Ok(())
    }

    /// The record after a crash: still INPROGRESS under the crashed invocation's claim.
    async fn held_by_crashed_claim(&self, key: &str) -> TestResult<Record> {
        let store = self.guard.store();
        let held = store.get(key).await?.ok_or("a crashed claim's record is gone")?;
        let last_claim = store.claims(key).last().cloned();
        ensure!(
            held.status == Status::InProgress && Some(&held.claim_token) == last_claim.as_ref(),
            "after a crash the record must stay INPROGRESS under the crashed claim {last_claim:?}: {held:?}"
        );
        Ok(held)
    }

    /// Delivers `event` in its own task, which is aborted where `crash` says it dies.
    async fn deliver(
        &self,
        event: &Envelope<OrderCancelledV1>,
        deadline_in_ms: i64,
        crash: Crash,
        runs: &Arc<AtomicU32>,
    ) -> TestResult<Delivered> {
        let key = self
            .guard
            .config()
            .record_key(&event.detail.metadata.event_id.to_string());
        let (reached, mut crashed) = oneshot::channel();
        let mut handler_crash = None;
        match crash {
            Crash::None => {}
            Crash::AfterClaim | Crash::BeforeCompletion => self.guard.store().arm(&key, crash, reached),
            Crash::InHandler => handler_crash = Some(reached),
        }
        let invocation = Invocation::of(event, Some(self.clock.now_ms() + deadline_in_ms))?;
        let (guard, runs) = (self.guard.clone(), Arc::clone(runs));
        let mut task = tokio::spawn(async move {
            guard
                .run(invocation, move || async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Some(reached) = handler_crash {
                        // The side effect happened; the run now waits on a gate nobody opens.
                        reached.send(()).ok();
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, HandlerError>(run)
                })
                .await
        });
        if crash == Crash::None {
            return Ok(Delivered::Answered(task.await?));
        }
        tokio::select! {
            biased;
            answer = &mut task => {
                self.guard.store().disarm(&key);
                Ok(Delivered::Answered(answer?))
            }
            signal = &mut crashed => match signal {
                Ok(()) => {
                    task.abort();
                    match task.await {
                        Err(error) if error.is_cancelled() => Ok(Delivered::Crashed),
                        Err(error) => Err(error.into()),
                        Ok(answer) => Err(format!("the delivery answered past its crash point: {answer:?}").into()),
                    }
                }
                // The handler was dropped unrun: the delivery answered without reaching its crash.
                Err(_) => Ok(Delivered::Answered(task.await?)),
            },
        }
    }
}
