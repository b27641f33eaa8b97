//! The idempotency guard against moto server's DynamoDB: every path of the decision table.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use herald::Classify;
use herald::idempotency::{
    BatchItem, DynamoStore, GuardError, IdempotencyConfig, IdempotencyGuard, IdempotencyLayer, Invocation, ManualClock,
    MissingKey, Outcome, Status, Store,
};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::{CallCounter, counted_client, create_idempotency_table};
use herald_tests::fixtures::{HandlerError, cancellation};
use lambda_runtime::tower::{Layer, Service, ServiceExt, service_fn};
use lambda_runtime::{Context, LambdaEvent};

const START_MS: i64 = 1_800_000_000_000;

struct Setup {
    guard: IdempotencyGuard<DynamoStore>,
    clock: ManualClock,
    calls: CallCounter,
}

async fn setup(config: IdempotencyConfig) -> TestResult<Setup> {
    let sdk = sdk_config().await;
    let (client, calls) = counted_client(&sdk);
    let table = create_idempotency_table(&client).await?;
    calls.reset();
    let clock = ManualClock::at(START_MS);
    let guard = IdempotencyGuard::with_clock(DynamoStore::new(client, table), config, Arc::new(clock.clone()));
    Ok(Setup { guard, clock, calls })
}

fn uncached() -> IdempotencyConfig {
    IdempotencyConfig {
        cache_capacity: 0,
        ..IdempotencyConfig::new("inventory")
    }
}

fn deadline_in(clock: &ManualClock, seconds: i64) -> Option<i64> {
    Some(herald::idempotency::Clock::now_ms(clock) + seconds * 1000)
}

#[tokio::test]
async fn a_duplicate_delivery_runs_the_handler_once_and_returns_the_first_result() -> TestResult {
    // Given a guard without cache, so the duplicate is answered by DynamoDB
    let Setup { guard, clock, calls } = setup(uncached()).await?;
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);
    let handler = || async {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        Ok::<_, HandlerError>(format!("released stock, run {run}"))
    };

    // When the event is delivered twice
    let first = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, handler)
        .await?;
    let first_calls = calls.total();
    calls.reset();
    let second = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, handler)
        .await?;

    // Then the handler ran once, the duplicate got the first result, for 2 + 1 DynamoDB calls
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(first.outcome, Outcome::Claimed);
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result.as_deref(), Some("released stock, run 1"));
    assert_eq!(first_calls, 2, "claim + complete");
    assert_eq!(calls.by_operation().get("PutItem"), Some(&1));
    assert_eq!(calls.total(), 1, "a duplicate costs one conditional put");
    Ok(())
}

#[tokio::test]
async fn a_warm_container_answers_a_repeated_duplicate_from_its_cache_with_no_call() -> TestResult {
    // Given the default config, whose cache is on
    let Setup { guard, clock, calls } = setup(IdempotencyConfig::new("inventory")).await?;
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);
    let handler = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, HandlerError>(42_u32)
    };
    guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, handler)
        .await?;
    calls.reset();

    // When the same event arrives again in the same container
    let again = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, handler)
        .await?;

    // Then it is answered from memory
    assert_eq!(again.outcome, Outcome::Cached);
    assert_eq!(again.result, Some(42));
    assert_eq!(calls.total(), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn an_expired_record_is_taken_over_and_run_again() -> TestResult {
    // Given a completed event whose record is past its TTL, which DynamoDB has not deleted yet
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let event = cancellation()?;
    guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(1)
        })
        .await?;
    clock.advance(Duration::from_secs(3601));

    // When it is delivered again
    let again = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(2)
        })
        .await?;

    // Then the expired record is replaced and the handler runs
    assert_eq!(again.outcome, Outcome::ExpiredTakeover);
    assert_eq!(again.result, Some(2));
    Ok(())
}

#[tokio::test]
async fn the_same_key_with_other_data_is_rejected_as_a_payload_mismatch() -> TestResult {
    // Given a completed event
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let event = cancellation()?;
    guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(())
        })
        .await?;

    // When another event reuses its event_id with other data
    let mut reused = event.clone();
    reused.detail.data.order_id = "ord-9999".into();
    let error = guard
        .run(Invocation::of(&reused, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(())
        })
        .await
        .err()
        .ok_or("a payload mismatch must fail")?;

    // Then it is rejected for good, naming the event
    assert!(matches!(error, GuardError::PayloadMismatch { .. }), "{error}");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains(&event.detail.metadata.event_id.to_string()));
    Ok(())
}

#[tokio::test]
async fn a_retryable_failure_releases_the_claim_so_the_retry_runs() -> TestResult {
    // Given a handler that fails with a retryable error once
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let event = cancellation()?;
    let first = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Err::<u32, _>(HandlerError::Transient)
        })
        .await
        .err()
        .ok_or("must fail")?;
    assert!(first.is_retryable());
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    assert_eq!(guard.store().get(&key).await?, None, "the claim was released");

    // When the event is retried at once
    let retry = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(7)
        })
        .await?;

    // Then it runs as a fresh claim
    assert_eq!(retry.outcome, Outcome::Claimed);
    assert_eq!(retry.result, Some(7));
    Ok(())
}

#[tokio::test]
async fn a_non_retryable_failure_is_recorded_and_not_run_again_by_an_automatic_retry() -> TestResult {
    // Given a handler that fails for good
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let event = cancellation()?;
    let runs = AtomicUsize::new(0);
    let failing = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        Err::<u32, _>(HandlerError::Permanent)
    };
    let first = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, failing)
        .await
        .err()
        .ok_or("must fail")?;
    assert!(matches!(first, GuardError::Handler(HandlerError::Permanent)));

    // When Lambda retries it automatically
    let retry = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, failing)
        .await
        .err()
        .ok_or("must fail")?;

    // Then it is answered at once from the FAILED record, without running
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    match &retry {
        GuardError::PreviouslyFailed { error, .. } => assert_eq!(error, "order has no lines"),
        other => return Err(format!("expected PreviouslyFailed, got {other}").into()),
    }
    assert!(!retry.is_retryable(), "straight to the DLQ");
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    assert_eq!(guard.store().get(&key).await?.map(|r| r.status), Some(Status::Failed));

    // And a redrive after the fix may replace the FAILED record on purpose
    let redrive = Invocation {
        replace_failed: true,
        ..Invocation::of(&event, deadline_in(&clock, 30))?
    };
    let fixed = guard.run(redrive, || async { Ok::<_, HandlerError>(1) }).await?;
    assert_eq!(fixed.outcome, Outcome::Reprocessed);
    Ok(())
}

#[tokio::test]
async fn a_live_claim_answers_already_in_progress_and_a_passed_lease_is_taken_over() -> TestResult {
    // Given an invocation that claimed the event and died without settling (its future dropped)
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let event = cancellation()?;
    let claimed = guard.run(Invocation::of(&event, deadline_in(&clock, 10))?, || async {
        std::future::pending::<Result<u32, HandlerError>>().await
    });
    assert!(tokio::time::timeout(Duration::from_millis(500), claimed).await.is_err());

    // When the event is redelivered while the lease runs, and again after it passed
    let early = guard
        .run(Invocation::of(&event, deadline_in(&clock, 10))?, || async {
            Ok::<_, HandlerError>(1)
        })
        .await
        .err()
        .ok_or("a live claim must answer AlreadyInProgress")?;
    clock.advance(Duration::from_secs(10));
    let late = guard
        .run(Invocation::of(&event, deadline_in(&clock, 10))?, || async {
            Ok::<_, HandlerError>(2)
        })
        .await?;

    // Then the early one is told to retry, and the late one takes over and completes
    assert!(matches!(early, GuardError::AlreadyInProgress { .. }), "{early}");
    assert!(early.is_retryable());
    assert_eq!(late.outcome, Outcome::ExpiredTakeover);
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    assert_eq!(
        guard.store().get(&key).await?.map(|r| r.status),
        Some(Status::Completed)
    );
    Ok(())
}

#[tokio::test]
async fn an_event_without_a_key_is_rejected_by_default_or_run_unguarded_when_configured() -> TestResult {
    let event = cancellation()?;
    let strict = setup(uncached()).await?;
    let lenient = setup(IdempotencyConfig {
        missing_key: MissingKey::RunUnguarded,
        ..uncached()
    })
    .await?;
    let keyless = |clock: &ManualClock| -> TestResult<Invocation> {
        Ok(Invocation::of(&event, deadline_in(clock, 30))?.with_key(None))
    };

    let rejected = strict
        .guard
        .run(keyless(&strict.clock)?, || async { Ok::<_, HandlerError>(1) })
        .await;
    let unguarded = lenient
        .guard
        .run(keyless(&lenient.clock)?, || async { Ok::<_, HandlerError>(1) })
        .await?;

    let rejected = rejected.err().ok_or("must be rejected")?;
    assert!(matches!(rejected, GuardError::MissingKey { .. }) && !rejected.is_retryable());
    assert_eq!(unguarded.outcome, Outcome::Unguarded);
    assert_eq!(strict.calls.total() + lenient.calls.total(), 0);
    Ok(())
}

#[tokio::test]
async fn a_consumer_derived_key_makes_two_events_of_one_order_one() -> TestResult {
    // Given a key of order id + detail-type instead of the event id
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let first = cancellation()?;
    let second = cancellation()?; // same data, another event_id
    let by_order =
        |e: &herald::Envelope<shop_events::OrderCancelledV1>| Some(format!("{}#{}", e.data().order_id, e.detail_type));

    let a = guard.run(
        Invocation::of(&first, deadline_in(&clock, 30))?.with_key(by_order(&first)),
        || async { Ok::<_, HandlerError>(1) },
    );
    let a = a.await?;
    let b = guard
        .run(
            Invocation::of(&second, deadline_in(&clock, 30))?.with_key(by_order(&second)),
            || async { Ok::<_, HandlerError>(2) },
        )
        .await?;

    assert_eq!((a.outcome, b.outcome), (Outcome::Claimed, Outcome::Duplicate));
    assert_eq!(b.result, Some(1));
    Ok(())
}

#[tokio::test]
async fn a_mixed_batch_reports_exactly_the_in_progress_and_failing_items() -> TestResult {
    // Given a completed event, a live claim, a fresh event that will fail and seven fresh ones
    let Setup { guard, clock, calls } = setup(uncached()).await?;
    let done = cancellation()?;
    guard
        .run(Invocation::of(&done, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(0)
        })
        .await?;
    let busy = cancellation()?;
    let hold = guard.run(Invocation::of(&busy, deadline_in(&clock, 30))?, || async {
        std::future::pending::<Result<u32, HandlerError>>().await
    });
    assert!(tokio::time::timeout(Duration::from_millis(300), hold).await.is_err());
    let failing = cancellation()?;
    let mut items = vec![
        ("m-done".to_owned(), done),
        ("m-busy".to_owned(), busy),
        ("m-failing".to_owned(), failing.clone()),
    ];
    for n in 0..7 {
        items.push((format!("m-fresh-{n}"), cancellation()?));
    }
    let items = items
        .into_iter()
        .map(|(item_id, event)| {
            Ok(BatchItem {
                item_id,
                invocation: Invocation::of(&event, deadline_in(&clock, 30))?,
                event,
            })
        })
        .collect::<TestResult<Vec<_>>>()?;
    calls.reset();

    // When the batch is handled
    let failing_id = failing.detail.metadata.event_id;
    let report = guard
        .run_batch(items, |event| async move {
            if event.detail.metadata.event_id == failing_id {
                Err(HandlerError::Permanent)
            } else {
                Ok(event.data().order_id.clone())
            }
        })
        .await;

    // Then only the in-progress and the failing items are reported, in a handful of calls
    let failures = failed_ids(&report);
    assert_eq!(failures, vec!["m-busy".to_owned(), "m-failing".to_owned()]);
    let outcomes = outcomes_of(&report);
    assert_eq!(
        outcomes[..3],
        ["duplicate", "Idempotency.AlreadyInProgress", "Test.Permanent"]
    );
    assert!(outcomes[3..].iter().all(|o| o == "claimed"), "{outcomes:?}");
    assert!(
        calls.total() <= 4,
        "claims (2) and settlement (1); got {:?}",
        calls.by_operation()
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_of_ten_fresh_events_costs_at_most_three_calls() -> TestResult {
    let Setup { guard, clock, calls } = setup(uncached()).await?;
    let items = (0..10)
        .map(|n| {
            let event = cancellation()?;
            Ok(BatchItem {
                item_id: format!("m-{n}"),
                invocation: Invocation::of(&event, deadline_in(&clock, 30))?,
                event,
            })
        })
        .collect::<TestResult<Vec<_>>>()?;

    let report = guard.run_batch(items, |_| async { Ok::<_, HandlerError>(()) }).await;

    assert!(report.response().batch_item_failures.is_empty());
    assert!(calls.total() <= 3, "{:?}", calls.by_operation());
    assert_eq!(calls.by_operation().get("TransactWriteItems"), Some(&2));
    Ok(())
}

/// The message ids the batch's answer asks SQS to deliver again, in order.
fn failed_ids<R, E: Classify>(report: &herald::idempotency::BatchReport<R, E>) -> Vec<String> {
    report
        .response()
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// Each item's outcome, or its error's type, in the batch's order.
fn outcomes_of<R, E: Classify>(report: &herald::idempotency::BatchReport<R, E>) -> Vec<String> {
    report
        .items
        .iter()
        .map(|(_, answer)| match answer {
            Ok(guarded) => guarded.outcome.to_string(),
            Err(error) => error.error_type().to_owned(),
        })
        .collect()
}

/// A batch of `count` fresh cancellations, each with a deadline `seconds` ahead.
fn batch_of(
    count: usize,
    clock: &ManualClock,
    seconds: i64,
) -> TestResult<Vec<BatchItem<herald::Envelope<shop_events::OrderCancelledV1>>>> {
    (0..count)
        .map(|n| {
            let event = cancellation()?;
            Ok(BatchItem {
                item_id: format!("m-{n}"),
                invocation: Invocation::of(&event, deadline_in(clock, seconds))?,
                event,
            })
        })
        .collect()
}

/// The same batch delivered again: the same events, new invocations with deadlines `seconds`
/// ahead of the clock now.
fn again<T: Clone>(items: &[BatchItem<T>], clock: &ManualClock, seconds: i64) -> Vec<BatchItem<T>> {
    items
        .iter()
        .map(|item| BatchItem {
            invocation: Invocation {
                deadline_ms: deadline_in(clock, seconds),
                ..item.invocation.clone()
            },
            ..item.clone()
        })
        .collect()
}

#[tokio::test]
async fn a_panic_at_the_fifth_event_of_a_batch_does_not_run_the_four_before_it_again() -> TestResult {
    // Given a batch of eight events whose fifth panics in its handler
    let Setup { guard, clock, calls } = setup(uncached()).await?;
    let items = batch_of(8, &clock, 30)?;
    let fifth = items[4].invocation.event_id.clone();
    let runs = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let handler = |event: herald::Envelope<shop_events::OrderCancelledV1>| {
        let id = event.detail.metadata.event_id.to_string();
        if let Ok(mut runs) = runs.lock() {
            *runs.entry(id.clone()).or_default() += 1;
        }
        let panics = id == fifth;
        async move {
            if panics {
                panic!("a bug in the handler");
            }
            Ok::<_, HandlerError>(())
        }
    };

    // When it is handled, and the whole batch is delivered again after the lease
    let first = guard.run_batch(items.clone(), handler).await;
    let first_calls = calls.total();
    clock.advance(Duration::from_secs(60));
    let second = guard.run_batch(again(&items, &clock, 30), handler).await;

    // Then the panic failed the fifth alone (for good, not retried as it is), the others'
    // completions were written in the same two calls, and no handler ran twice
    let failed = failed_ids(&first);
    assert_eq!(failed, ["m-4"]);
    assert!(matches!(&first.items[4].1, Err(e @ GuardError::Panicked { .. }) if !e.is_retryable()));
    assert_eq!(first_calls, 2, "one claim and one settlement transaction");
    let runs = runs.lock().map_err(|_| "poisoned")?;
    assert_eq!(runs.len(), 8);
    assert!(runs.values().all(|n| *n == 1), "{runs:?}");
    let outcomes = outcomes_of(&second);
    assert_eq!(outcomes[4], "Idempotency.PreviouslyFailed");
    assert!(
        outcomes.iter().enumerate().all(|(i, o)| i == 4 || o == "duplicate"),
        "{outcomes:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_stopped_by_its_deadline_keeps_what_completed_and_runs_the_rest_on_the_next_delivery() -> TestResult {
    // Given a batch of six events whose deadline leaves the guard's margin plus half a second,
    // and whose third handler hangs
    let Setup { guard, clock, .. } = setup(uncached()).await?;
    let margin = IdempotencyConfig::new("inventory").lease_margin;
    let seconds_left = i64::try_from(margin.as_secs())? + 1;
    let items = batch_of(6, &clock, seconds_left)?;
    let hangs = items[2].invocation.event_id.clone();
    let runs = std::sync::Mutex::new(Vec::<String>::new());
    let handler = |hang: Option<String>| {
        let runs = &runs;
        move |event: herald::Envelope<shop_events::OrderCancelledV1>| {
            let id = event.detail.metadata.event_id.to_string();
            let hangs = hang.as_deref() == Some(id.as_str());
            async move {
                runs.lock().map_err(|_| HandlerError::Permanent)?.push(id);
                if hangs {
                    std::future::pending::<()>().await;
                }
                Ok::<_, HandlerError>(())
            }
        }
    };

    // When it is handled (the hang is stopped a margin before the deadline), and delivered
    // again once the invocation's leases ended
    let first = guard.run_batch(items.clone(), handler(Some(hangs))).await;
    let ran_first = runs.lock().map_err(|_| "poisoned")?.len();
    clock.advance(Duration::from_secs(60));
    let second = guard.run_batch(again(&items, &clock, 30), handler(None)).await;

    // Then the first two completed and stayed completed; the third and those after it were
    // delivered again (retryable), and ran on the second delivery, each once more at most
    let failed = failed_ids(&first);
    assert_eq!(failed, ["m-2", "m-3", "m-4", "m-5"]);
    assert!(matches!(&first.items[3].1, Err(e @ GuardError::OutOfTime { .. }) if e.is_retryable()));
    assert_eq!(ran_first, 3, "the two before the hang and the hang itself");
    // (a transaction's claim does not read the record it replaced: a takeover answers `claimed`)
    let ran: Vec<bool> = second
        .items
        .iter()
        .map(|(_, answer)| answer.as_ref().is_ok_and(|g| g.outcome.ran()))
        .collect();
    assert_eq!(ran, [false, false, true, true, true, true]);
    assert!(
        second.items[..2]
            .iter()
            .all(|(_, answer)| answer.as_ref().is_ok_and(|g| g.outcome == Outcome::Duplicate))
    );
    assert!(second.response().batch_item_failures.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_tower_layer_guards_a_lambda_service() -> TestResult {
    // Given a lambda_runtime service wrapped in the layer
    let Setup { guard, .. } = setup(uncached()).await?;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let inner = service_fn(
        move |event: LambdaEvent<herald::Envelope<shop_events::OrderCancelledV1>>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, HandlerError>(event.payload.data().order_id.clone())
            }
        },
    );
    let mut service = IdempotencyLayer::new(guard).layer(inner);
    let event = cancellation()?;
    let mut context = Context::default();
    context.deadline = u64::try_from(chrono::Utc::now().timestamp_millis() + 30_000)?;

    // When the same event is invoked twice
    let first = service
        .ready()
        .await?
        .call(LambdaEvent::new(event.clone(), context.clone()))
        .await?;
    let second = service.ready().await?.call(LambdaEvent::new(event, context)).await?;

    // Then the inner service ran once and the response says what happened
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        serde_json::to_value(&first)?,
        serde_json::json!({"outcome": "claimed", "result": "ord-1001"})
    );
    assert_eq!(
        serde_json::to_value(&second)?,
        serde_json::json!({"outcome": "duplicate", "result": "ord-1001"})
    );
    Ok(())
}

#[tokio::test]
async fn a_result_over_the_size_limit_is_not_stored_and_duplicates_get_no_result() -> TestResult {
    // Given a guard that stores results of at most 16 bytes
    let Setup { guard, clock, .. } = setup(IdempotencyConfig {
        max_result_bytes: 16,
        ..uncached()
    })
    .await?;
    let event = cancellation()?;
    let big = "x".repeat(64);

    // When a handler returns more than that, and the event is delivered again
    let first = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(big.clone())
        })
        .await?;
    let again = guard
        .run(Invocation::of(&event, deadline_in(&clock, 30))?, || async {
            Ok::<_, HandlerError>(String::new())
        })
        .await?;

    // Then the first caller got its result, the record is COMPLETED without it, and the
    // duplicate is still answered without running
    assert_eq!(first.result.as_deref(), Some(big.as_str()));
    let key = guard.config().record_key(&event.detail.metadata.event_id.to_string());
    let record = guard.store().get(&key).await?.ok_or("no record")?;
    assert_eq!((record.status, record.result), (Status::Completed, None));
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(again.result, None);
    Ok(())
}
