//! Guarding a batch of SQS-buffered events with two store calls for ten fresh events.
//!
//! Claims go out in one transaction per ten events; a cancelled transaction's reasons separate
//! duplicates from fresh events, which are claimed in one more call. Handlers run in the batch's
//! order; every COMPLETED and FAILED record is written in one more transaction, after the last
//! handler. So that a failure at event k does not run events 1..k-1 again, what could end the
//! invocation before that write is turned into an answer for event k alone: a panic is caught
//! (the event is recorded FAILED: a bug, not retried as it is), and the invocation's deadline
//! stops the batch a lease margin early (the handler running then is dropped, it and the events
//! after it are delivered again; their claims' leases end with the invocation). Only a process
//! that dies outright (out of memory, killed) loses the batch's completions; its events run
//! again once their leases end, each still at most once at a time. The answer is
//! Lambda's partial batch response listing the failures only: an event handled now or before is
//! deleted from the queue; anything else (in progress elsewhere, failed, not claimable) is left
//! for SQS to deliver again, and after `maxReceiveCount` to move to the dead-letter queue.
//! Nothing is acknowledged that did not complete.

use std::any::Any;
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt as _;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::guard::{Decision, GuardError, Guarded, IdempotencyGuard, Invocation, Settlement, condition};
use super::record::{Record, Status};
use super::store::Store;
use crate::error::Classify;

/// Events claimed per transaction.
pub const CLAIMS_PER_CALL: usize = 10;

/// One event of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem<T> {
    /// The SQS `messageId`, reported back in `batchItemFailures`.
    pub item_id: String,
    /// The event's invocation (key, payload hash, deadline).
    pub invocation: Invocation,
    /// The event, handed to the handler if it runs.
    pub event: T,
}

/// One item's id and the guard's answer for it.
pub type ItemAnswer<R, E> = (String, Result<Guarded<R>, GuardError<E>>);

/// What became of each event of a batch, in the batch's order.
#[derive(Debug)]
pub struct BatchReport<R, E> {
    /// Each item's id and answer.
    pub items: Vec<ItemAnswer<R, E>>,
}

impl<R, E> BatchReport<R, E> {
    /// Lambda's partial batch response: the ids of the items that must be delivered again.
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .items
            .iter()
            .filter(|(_, answer)| answer.is_err())
            .map(|(id, _)| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                failure
            })
            .collect();
        response
    }
}

impl<S: Store> IdempotencyGuard<S> {
    /// Runs `handler` at most once per key for each event of a batch.
    pub async fn run_batch<T, R, E, F, Fut>(&self, items: Vec<BatchItem<T>>, mut handler: F) -> BatchReport<R, E>
    where
        R: Serialize + DeserializeOwned,
        E: Classify + fmt::Display,
        F: FnMut(T) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let now = self.now_ms();
        let count = items.len();
        let mut ids = Vec::with_capacity(count);
        let mut invocations = Vec::with_capacity(count);
        let mut events: Vec<Option<T>> = Vec::with_capacity(count);
        for item in items {
            ids.push(item.item_id);
            invocations.push(item.invocation);
            events.push(Some(item.event));
        }
        let mut answers: Vec<Option<Result<Guarded<R>, GuardError<E>>>> = (0..count).map(|_| None).collect();

        // 1. Answer what needs no claim; collect the claims.
        let mut seen = HashSet::new();
        let mut claims: Vec<(usize, Record)> = Vec::new();
        for (i, invocation) in invocations.iter().enumerate() {
            let Some(key) = invocation.key.as_deref().map(|k| self.config().record_key(k)) else {
                let event = events[i].take();
                let handler = &mut handler;
                answers[i] = Some(match event {
                    Some(event) => self.run_unkeyed(invocation, || handler(event)).await,
                    None => Err(GuardError::MissingKey {
                        event_id: invocation.event_id.clone(),
                    }),
                });
                continue;
            };
            if let Some(answer) = self.cached_answer(&key, invocation) {
                answers[i] = Some(answer);
            } else if !seen.insert(key.clone()) {
                // The same event twice in one batch: the first one runs, this one comes back later.
                answers[i] = Some(Err(GuardError::AlreadyInProgress {
                    key,
                    event_id: invocation.event_id.clone(),
                    lease_until: now,
                }));
            } else {
                claims.push((i, self.claim_record(key, invocation, now)));
            }
        }

        // 2. Claim, ten per call.
        let mut runs = Vec::new();
        for chunk in claims.chunks(CLAIMS_PER_CALL) {
            let request: Vec<_> = chunk
                .iter()
                .map(|(i, record)| (record.clone(), condition(&invocations[*i], now)))
                .collect();
            match self.store().put_batch(&request).await {
                Ok(found) => {
                    for ((i, record), claim) in chunk.iter().zip(found) {
                        match self.decide(record.clone(), claim, &invocations[*i], now) {
                            Decision::Run(record, outcome) => runs.push((*i, record, outcome)),
                            Decision::Answer(answer) => answers[*i] = Some(answer),
                        }
                    }
                }
                Err(source) => {
                    for (i, _) in chunk {
                        answers[*i] = Some(Err(GuardError::Store {
                            event_id: invocations[*i].event_id.clone(),
                            source: source.clone(),
                        }));
                    }
                }
            }
        }

        // 3. Run, in the batch's order. A panic is caught and a handler that would outlive the
        // invocation is stopped, so that nothing short of the process dying outright keeps the
        // completions of the events before it from being written in step 4.
        let margin = i64::try_from(self.config().lease_margin.as_millis()).unwrap_or(i64::MAX);
        let mut out_of_time = false;
        let mut writes: Vec<(usize, Record)> = Vec::new();
        let mut releases: Vec<(usize, Record)> = Vec::new();
        for (i, record, outcome) in runs {
            let Some(event) = events[i].take() else { continue };
            let event_id = &invocations[i].event_id;
            // What is left before the deadline, keeping the lease margin for the settlement.
            let budget = invocations[i]
                .deadline_ms
                .map(|deadline| deadline.saturating_sub(margin).saturating_sub(self.now_ms()));
            if out_of_time || budget.is_some_and(|ms| ms <= 0) {
                // Not run. Its claim is left as it is: the lease ends with this invocation, so the
                // queue's next delivery takes it over and runs it.
                out_of_time = true;
                answers[i] = Some(Err(GuardError::OutOfTime {
                    event_id: event_id.clone(),
                }));
                continue;
            }
            let run = AssertUnwindSafe(handler(event)).catch_unwind();
            let finished = match budget {
                Some(ms) => tokio::time::timeout(Duration::from_millis(ms.unsigned_abs()), run)
                    .await
                    .ok(),
                None => Some(run.await),
            };
            let result = match finished {
                None => {
                    // Stopped mid-run; the claim is left to its lease, as above.
                    tracing::warn!(event_id = %event_id, "batch: handler stopped at the invocation's deadline");
                    out_of_time = true;
                    answers[i] = Some(Err(GuardError::OutOfTime {
                        event_id: event_id.clone(),
                    }));
                    continue;
                }
                Some(Err(panic)) => {
                    let message = panic_message(panic.as_ref());
                    tracing::error!(event_id = %event_id, panic = %message, "batch: handler panicked");
                    writes.push((
                        i,
                        Record {
                            status: Status::Failed,
                            error: Some(format!("the handler panicked: {message}")),
                            ..record
                        },
                    ));
                    answers[i] = Some(Err(GuardError::Panicked {
                        event_id: event_id.clone(),
                        message,
                    }));
                    continue;
                }
                Some(Ok(result)) => result,
            };
            match self.settlement(&record, &result) {
                Settlement::Write(settled) => writes.push((i, settled)),
                Settlement::Release(claim) => releases.push((i, claim)),
            }
            answers[i] = Some(
                result
                    .map(|value| Guarded {
                        outcome,
                        result: Some(value),
                    })
                    .map_err(GuardError::Handler),
            );
        }

        // 4. Settle: completions and failures together, ten per call; releases one by one.
        for chunk in writes.chunks(CLAIMS_PER_CALL) {
            let records: Vec<Record> = chunk.iter().map(|(_, r)| r.clone()).collect();
            match self.store().update_batch(&records).await {
                Ok(updates) => {
                    for ((i, record), update) in chunk.iter().zip(updates) {
                        self.after_update(record, Ok(update), &invocations[*i]);
                    }
                }
                Err(error) => {
                    for (i, record) in chunk {
                        self.after_update(record, Err(error.clone()), &invocations[*i]);
                    }
                }
            }
        }
        for (i, claim) in &releases {
            self.release(claim, &invocations[*i]).await;
        }

        let items = ids
            .into_iter()
            .zip(answers)
            .zip(&invocations)
            .map(|((id, answer), invocation)| {
                // Every item was answered above; should one not be, it is delivered again
                // rather than acknowledged.
                let answer = answer.unwrap_or_else(|| {
                    Err(GuardError::AlreadyInProgress {
                        key: invocation.key.clone().unwrap_or_default(),
                        event_id: invocation.event_id.clone(),
                        lease_until: now,
                    })
                });
                (id, answer)
            })
            .collect();
        BatchReport { items }
    }
}

/// What a caught panic said: its `&str` or `String` payload, as the default hook prints it.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_owned())
}
