//! Guarding a batch of SQS-buffered events with three store calls for ten fresh events.
//!
//! Claims go out in one transaction per ten events; a cancelled transaction's reasons separate
//! duplicates from fresh events, which are claimed in one more call. Handlers run in the batch's
//! order; every COMPLETED and FAILED record is written in one more transaction. The answer is
//! Lambda's partial batch response listing the failures only: an event handled now or before is
//! deleted from the queue; anything else (in progress elsewhere, failed, not claimable) is left
//! for SQS to deliver again, and after `maxReceiveCount` to move to the dead-letter queue.
//! Nothing is acknowledged that did not complete.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::guard::{Decision, GuardError, Guarded, IdempotencyGuard, Invocation, Settlement, condition};
use super::record::Record;
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

        // 3. Run, in the batch's order.
        let mut writes: Vec<(usize, Record)> = Vec::new();
        let mut releases: Vec<(usize, Record)> = Vec::new();
        for (i, record, outcome) in runs {
            let Some(event) = events[i].take() else { continue };
            let result = handler(event).await;
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
