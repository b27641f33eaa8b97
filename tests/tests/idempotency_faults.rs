//! The idempotency guard when DynamoDB throttles, fails or times out, injected under the SDK.
//!
//! **The guarantee.** Throttling, 5xx and timeouts on the claim (`PutItem`) and on the completion
//! (`UpdateItem`) are retried by the SDK with backoff, as the client's `RetryConfig` and
//! `TimeoutConfig` say, and an SDK retry of a write that had in fact landed finds the guard's own
//! claim token and counts as done. A claim that still fails after the retries is a retryable
//! `GuardError::Store` and the handler does not run (if that claim did land, redeliveries are
//! answered `AlreadyInProgress` until its lease ends). A completion that still fails after the
//! retries does not fail the invocation: the handler's result is returned and the record stays
//! INPROGRESS until its lease ends, so a redelivery before then is answered `AlreadyInProgress`
//! (retryable) without running, and only a redelivery after then runs the handler again — the one
//! repetition the lease rules allow (`herald::idempotency::guard`, "What the lease rules allow").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald::Classify;
use herald::idempotency::{
    Clock, DynamoStore, GuardError, IdempotencyConfig, IdempotencyGuard, Invocation, ManualClock, Outcome, Record,
    Status, Store,
};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::create_idempotency_table;
use herald_tests::faults::{ATTEMPT_TIMEOUT, Fault, Faults};
use herald_tests::fixtures::{HandlerError, cancellation};
use shop_events::OrderCancelledV1;

const START_MS: i64 = 1_800_000_000_000;
/// Attempts per DynamoDB call: the first and two SDK retries.
const MAX_ATTEMPTS: usize = 3;
/// Each delivery's deadline; its lease ends one `lease_margin` (1 s) earlier.
const DEADLINE: Duration = Duration::from_secs(30);

type Event = herald::Envelope<OrderCancelledV1>;

struct Setup {
    guard: IdempotencyGuard<DynamoStore>,
    clock: ManualClock,
    faults: Faults,
}

/// A fresh table, and a guard whose DynamoDB client goes through a fault plan (empty so far).
async fn setup(config: IdempotencyConfig) -> TestResult<Setup> {
    let sdk = sdk_config().await;
    let table = create_idempotency_table(&aws_sdk_dynamodb::Client::new(&sdk)).await?;
    let faults = Faults::default();
    let client = faults.dynamodb_client(&sdk, u32::try_from(MAX_ATTEMPTS)?);
    let clock = ManualClock::at(START_MS);
    let guard = IdempotencyGuard::with_clock(DynamoStore::new(client, table), config, Arc::new(clock.clone()));
    Ok(Setup { guard, clock, faults })
}

/// No cache: every duplicate is answered by DynamoDB.
fn uncached() -> IdempotencyConfig {
    IdempotencyConfig {
        cache_capacity: 0,
        ..IdempotencyConfig::new("inventory")
    }
}

/// A delivery of `event` now, with [`DEADLINE`] to run.
fn delivery(event: &Event, clock: &ManualClock) -> TestResult<Invocation> {
    let deadline = clock.now_ms() + i64::try_from(DEADLINE.as_millis())?;
    Ok(Invocation::of(event, Some(deadline))?)
}

/// The handler: its side effect is counted in `runs`, its result names the run.
fn release_stock(runs: &AtomicUsize) -> impl FnOnce() -> std::future::Ready<Result<String, HandlerError>> + '_ {
    move || {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(Ok(format!("released stock, run {run}")))
    }
}

/// The record the guard keeps for `event`.
async fn record_of(guard: &IdempotencyGuard<DynamoStore>, event: &Event) -> TestResult<Record> {
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    Ok(guard.store().get(&key).await?.ok_or("no record for the event")?)
}

/// The result as the record stores it (JSON).
fn stored(result: &str) -> Option<String> {
    Some(format!("\"{result}\""))
}

#[tokio::test]
async fn throttling_a_5xx_and_a_timeout_on_the_claim_are_retried_and_the_event_runs_once() -> TestResult {
    for fault in Fault::UNSENT {
        // Given DynamoDB that answers the first claim attempt with the fault
        let Setup { guard, clock, faults } = setup(uncached()).await?;
        faults.on("PutItem", 1, fault);
        let event = cancellation()?;
        let runs = AtomicUsize::new(0);

        // When the event is delivered
        let started = Instant::now();
        let answer = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

        // Then the SDK retried the claim, and the event ran once and completed
        assert_eq!(faults.injected("PutItem"), [fault]);
        assert_eq!(
            faults.dynamodb_statuses("PutItem"),
            [None, Some(200)],
            "{fault:?}: faulted attempt, retry"
        );
        assert!(
            fault != Fault::Timeout || started.elapsed() >= ATTEMPT_TIMEOUT,
            "the attempt timed out"
        );
        assert_eq!(faults.requests("UpdateItem"), 1, "{fault:?}: one completion");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{fault:?}");
        assert_eq!(answer.outcome, Outcome::Claimed, "{fault:?}");
        assert_eq!(answer.result.as_deref(), Some("released stock, run 1"));
        let record = record_of(&guard, &event).await?;
        assert_eq!(
            (record.status, record.result),
            (Status::Completed, stored("released stock, run 1"))
        );
    }
    Ok(())
}

#[tokio::test]
async fn throttling_a_5xx_and_a_timeout_on_the_completion_are_retried_and_the_record_ends_completed() -> TestResult {
    for fault in Fault::UNSENT {
        // Given DynamoDB that answers the first completion attempt with the fault
        let Setup { guard, clock, faults } = setup(uncached()).await?;
        faults.on("UpdateItem", 1, fault);
        let event = cancellation()?;
        let runs = AtomicUsize::new(0);

        // When the event is delivered
        let answer = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

        // Then the SDK retried the completion, which recorded the result
        assert_eq!(faults.injected("UpdateItem"), [fault]);
        assert_eq!(faults.requests("PutItem"), 1, "{fault:?}: one claim");
        assert_eq!(
            faults.dynamodb_statuses("UpdateItem"),
            [None, Some(200)],
            "{fault:?}: faulted attempt, retry"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{fault:?}");
        assert_eq!(answer.outcome, Outcome::Claimed, "{fault:?}");
        let record = record_of(&guard, &event).await?;
        assert_eq!(
            (record.status, record.result),
            (Status::Completed, stored("released stock, run 1"))
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_claim_whose_write_landed_but_whose_response_was_lost_is_recognised_as_ours_on_the_retry() -> TestResult {
    // Given DynamoDB that writes the first claim but loses its response
    let Setup { guard, clock, faults } = setup(uncached()).await?;
    faults.on("PutItem", 1, Fault::LostResponse);
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);

    // When the event is delivered
    let answer = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

    // Then the SDK's retry conflicts with the guard's own claim, which it takes as claimed: one run
    assert_eq!(
        faults.dynamodb_statuses("PutItem"),
        [Some(200), Some(400)],
        "the claim landed; its retry met it"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(record_of(&guard, &event).await?.status, Status::Completed);
    Ok(())
}

#[tokio::test]
async fn a_completion_that_landed_but_whose_response_was_lost_counts_and_duplicates_get_its_result() -> TestResult {
    // Given DynamoDB that writes the first completion but loses its response, and a guard with a cache
    let Setup { guard, clock, faults } = setup(IdempotencyConfig::new("inventory")).await?;
    faults.on("UpdateItem", 1, Fault::LostResponse);
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);

    // When the event is delivered, then again to the same container and to another one
    let first = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;
    let completions = faults.dynamodb_statuses("UpdateItem");
    let warm = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;
    let other_container = IdempotencyGuard::with_clock(guard.store().clone(), uncached(), Arc::new(clock.clone()));
    let cold = other_container
        .run(delivery(&event, &clock)?, release_stock(&runs))
        .await?;

    // Then the retry's conflict with our own COMPLETED record counted as the completion: the
    // record holds the result, the warm container cached it, and no duplicate ran the handler
    assert_eq!(
        completions,
        [Some(200), Some(400)],
        "the completion landed; its retry met it"
    );
    assert_eq!(
        (first.outcome, first.result.as_deref()),
        (Outcome::Claimed, Some("released stock, run 1"))
    );
    assert_eq!(
        (warm.outcome, warm.result.as_deref()),
        (Outcome::Cached, Some("released stock, run 1"))
    );
    assert_eq!(
        (cold.outcome, cold.result.as_deref()),
        (Outcome::Duplicate, Some("released stock, run 1"))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let record = record_of(&guard, &event).await?;
    assert_eq!(
        (record.status, record.result),
        (Status::Completed, stored("released stock, run 1"))
    );
    Ok(())
}

#[tokio::test]
async fn a_completion_that_finally_fails_returns_the_result_and_only_a_redelivery_after_the_lease_runs_again()
-> TestResult {
    // Given DynamoDB that fails every completion
    let Setup { guard, clock, faults } = setup(uncached()).await?;
    faults.on_every("UpdateItem", Fault::InternalServerError);
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);

    // When the event is delivered
    let first = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

    // Then the SDK tried the completion as often as configured, the invocation still succeeded
    // with the handler's result, and the record stayed INPROGRESS under its lease
    assert_eq!(faults.dynamodb_statuses("UpdateItem"), [None; MAX_ATTEMPTS]);
    assert_eq!(
        (first.outcome, first.result.as_deref()),
        (Outcome::Claimed, Some("released stock, run 1"))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let record = record_of(&guard, &event).await?;
    assert_eq!((record.status, record.result), (Status::InProgress, None));

    // When it is redelivered while the lease runs
    clock.advance(Duration::from_secs(10));
    let early = guard
        .run(delivery(&event, &clock)?, release_stock(&runs))
        .await
        .err()
        .ok_or("a redelivery inside the lease must not run")?;

    // Then it is told to retry later, and the handler did not run
    match &early {
        GuardError::AlreadyInProgress { lease_until, .. } => assert_eq!(*lease_until, record.lease_until),
        other => return Err(format!("expected AlreadyInProgress, got {other}").into()),
    }
    assert!(early.is_retryable());
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // When DynamoDB recovers and the event is redelivered after the lease ended
    faults.heal();
    clock.advance(Duration::from_secs(20));
    assert!(clock.now_ms() > record.lease_until);
    let late = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;
    let after = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

    // Then that redelivery, and only it, ran the handler again; it completed and later ones are duplicates
    assert_eq!(
        (late.outcome, late.result.as_deref()),
        (Outcome::ExpiredTakeover, Some("released stock, run 2"))
    );
    assert_eq!(
        (after.outcome, after.result.as_deref()),
        (Outcome::Duplicate, Some("released stock, run 2"))
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(record_of(&guard, &event).await?.status, Status::Completed);
    Ok(())
}

#[tokio::test]
async fn a_claim_that_finally_fails_is_a_retryable_store_error_and_the_handler_never_runs() -> TestResult {
    // Given DynamoDB that throttles every claim
    let Setup { guard, clock, faults } = setup(uncached()).await?;
    faults.on_every("PutItem", Fault::ProvisionedThroughputExceeded);
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);

    // When the event is delivered
    let error = guard
        .run(delivery(&event, &clock)?, release_stock(&runs))
        .await
        .err()
        .ok_or("a claim that fails must fail the invocation")?;

    // Then the SDK tried as often as configured, the guard answered a retryable store error, and
    // the handler never ran
    assert!(matches!(error, GuardError::Store { .. }), "{error}");
    assert!(error.is_retryable());
    assert_eq!(error.error_type(), "Idempotency.Store");
    assert!(
        error.to_string().contains(&event.detail.metadata.event_id.to_string()),
        "{error}"
    );
    assert_eq!(faults.dynamodb_statuses("PutItem"), [None; MAX_ATTEMPTS]);
    assert_eq!(faults.requests("UpdateItem"), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    // And once DynamoDB recovers, the retry runs it as a fresh claim
    faults.heal();
    let retry = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;
    assert_eq!(retry.outcome, Outcome::Claimed);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn a_claim_that_landed_but_whose_every_response_was_lost_holds_redeliveries_off_until_its_lease_ends()
-> TestResult {
    // Given DynamoDB that writes the claim but loses the response of every attempt
    let Setup { guard, clock, faults } = setup(uncached()).await?;
    faults.on_every("PutItem", Fault::LostResponse);
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);

    // When the event is delivered, and redelivered after DynamoDB recovered, inside and after the lease
    let failed = guard
        .run(delivery(&event, &clock)?, release_stock(&runs))
        .await
        .err()
        .ok_or("must fail")?;
    let claims = faults.dynamodb_statuses("PutItem");
    faults.heal();
    let record = record_of(&guard, &event).await?;
    let early = guard
        .run(delivery(&event, &clock)?, release_stock(&runs))
        .await
        .err()
        .ok_or("must not run")?;
    clock.advance(DEADLINE);
    let late = guard.run(delivery(&event, &clock)?, release_stock(&runs)).await?;

    // Then the first failed retryably without running, its orphaned claim answered AlreadyInProgress
    // while its lease ran, and only the redelivery after the lease ran the handler: once in all
    assert_eq!(
        claims,
        [Some(200), Some(400), Some(400)],
        "the claim landed; each retry met it"
    );
    assert!(
        matches!(failed, GuardError::Store { .. }) && failed.is_retryable(),
        "{failed}"
    );
    assert_eq!(record.status, Status::InProgress);
    assert!(
        matches!(early, GuardError::AlreadyInProgress { .. }) && early.is_retryable(),
        "{early}"
    );
    assert_eq!(late.outcome, Outcome::ExpiredTakeover);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    Ok(())
}
