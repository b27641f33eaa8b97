//! Every function, run again on any catalogued event after its guard's record is gone, changes
//! nothing and publishes nothing.
//!
//! The guard remembers an event for 31 days (`IDEMPOTENCY_EXPIRES_AFTER_SECONDS`, longer than the
//! DLQ's 14 days and the archive's 30), but an event can come back later (a team re-sending from
//! its own log), and a `reprocess-…` replay runs the handler again on purpose. Then each
//! function's own state must answer: what it wrote stays as it is, and what it published is not
//! published again (downstream guards may have forgotten it too, so a re-published
//! VoucherIssued would mail the customer twice).
//!
//! For each function, on moto: each sample it consumes delivered alone, and all of them in the
//! order they happened (`occurred_at`, so a late OrderPlaced meets its cancelled or returned
//! order); then every one of those samples again, three ways — redelivered to a guard that forgot
//! everything, replayed from the archive (`replay-name`) to a guard that forgot everything, and
//! reprocessed (`reprocess-…`) — while the function's tables (scanned whole) and its bus (drained)
//! must not change, and a delivery that succeeded the first time must succeed again.

use std::collections::BTreeMap;

use herald::function::Handler;
use herald::{Function, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::catalog_samples;
use herald_tests::functions::FUNCTIONS;
use herald_tests::world::{FunctionWorld, Stores};
use serde_json::Value;

/// What a function's tables hold: table variable → every item as JSON text, sorted.
type State = BTreeMap<String, Vec<String>>;

/// The three ways an event comes back after its guard's record is gone.
#[derive(Debug, Clone, Copy)]
enum Late {
    /// The same event delivered again, its record expired.
    Redelivered,
    /// Replayed from the archive, its record expired.
    Replayed,
    /// Replayed on purpose to run again (`reprocess-…`), its record still there.
    Reprocessed,
}

impl Late {
    const ALL: [Self; 3] = [Self::Redelivered, Self::Replayed, Self::Reprocessed];

    fn of(self, raw: &RawEvent) -> RawEvent {
        let mut value = raw.as_value().clone();
        if let Value::Object(fields) = &mut value {
            match self {
                Self::Redelivered => {}
                Self::Replayed => {
                    fields.insert("replay-name".into(), "late-replay".into());
                }
                Self::Reprocessed => {
                    fields.insert("replay-name".into(), "reprocess-late".into());
                }
            }
        }
        RawEvent::from_value(value)
    }
}

/// The catalog's samples `D` consumes, in the order they happened.
fn samples_of<D: Function>() -> TestResult<Vec<(String, RawEvent)>> {
    let spec = FUNCTIONS
        .iter()
        .find(|spec| spec.name == D::NAME)
        .ok_or(format!("{} declares no consumer", D::NAME))?;
    let mut samples: Vec<(String, String, RawEvent)> = catalog_samples()?
        .into_iter()
        .filter(|(_, raw)| spec.consumes.iter().any(|consumed| consumed.matches(raw)))
        .map(|(path, raw)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = format!("{} {name}", raw.detail_type().unwrap_or_default());
            let occurred = raw.metadata().map(|m| m.occurred_at.to_rfc3339()).unwrap_or_default();
            (occurred, name, raw)
        })
        .collect();
    if samples.is_empty() {
        return Err(format!("the catalog has no sample {} consumes", D::NAME).into());
    }
    samples.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(samples.into_iter().map(|(_, name, raw)| (name, raw)).collect())
}

/// Every item of every table of the function, as JSON text (objects' keys sorted), sorted.
async fn state<D: Function>(world: &FunctionWorld<D>) -> TestResult<State> {
    let spec = FUNCTIONS
        .iter()
        .find(|spec| spec.name == D::NAME)
        .ok_or(format!("{} declares no consumer", D::NAME))?;
    let mut state = State::new();
    for table in spec.tables {
        let name = world.env.get(table.env).ok_or(format!("{} is not set", table.env))?;
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = world
                .moto
                .dynamodb
                .scan()
                .table_name(name)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items() {
                let json: Value = serde_dynamo::from_item(item.clone())?;
                items.push(json.to_string());
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        items.sort();
        state.insert(table.env.to_owned(), items);
    }
    Ok(state)
}

/// Delivers `first` in order to a fresh `D`, then each of them late in every [`Late`] way: its
/// tables and its bus must stay as the first deliveries left them.
async fn runs_again_late_without_effect<D, H>(handler: H, label: &str, first: &[(String, RawEvent)]) -> TestResult
where
    D: Function,
    H: for<'a> Handler<'a, D>,
{
    let world = FunctionWorld::<D>::new(Stores::Moto, handler, &[]).await?;
    let mut succeeded = Vec::new();
    for (_, raw) in first {
        succeeded.push(world.deliver(raw.clone()).await.is_ok());
    }
    let before = state(&world).await?;
    world.bus.emitted(0).await?;
    for ((name, raw), succeeded) in first.iter().zip(succeeded) {
        for late in Late::ALL {
            let answer = match late {
                Late::Reprocessed => world.deliver(late.of(raw)).await,
                Late::Redelivered | Late::Replayed => world.forgetting().await?.handle(late.of(raw), None).await,
            };
            let context = format!("{} after {label}: {name} {late:?}", D::NAME);
            if succeeded && let Err(error) = &answer {
                return Err(format!("{context} failed, although it succeeded the first time: {error}").into());
            }
            let published = world.bus.emitted(0).await?;
            if !published.is_empty() {
                let ids: Vec<String> = published
                    .iter()
                    .map(|event| format!("{} {}", event["detail-type"], event["detail"]["metadata"]["event_id"]))
                    .collect();
                return Err(format!("{context} published again: {ids:?}").into());
            }
            let after = state(&world).await?;
            if after != before {
                return Err(format!("{context} changed its tables:\nbefore {before:#?}\nafter {after:#?}").into());
            }
        }
    }
    Ok(())
}

/// Each sample `D` consumes alone, then all of them in the order they happened.
async fn every_late_run_of<D, H>(handler: H) -> TestResult
where
    D: Function,
    H: for<'a> Handler<'a, D> + Copy,
{
    let samples = samples_of::<D>()?;
    for sample in &samples {
        runs_again_late_without_effect(handler, &format!("{} alone", sample.0), std::slice::from_ref(sample)).await?;
    }
    runs_again_late_without_effect(handler, "every sample in the order they happened", &samples).await
}

#[tokio::test]
async fn billing_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<billing::handler::Deps, _>(billing::handler::handle).await
}

#[tokio::test]
async fn campaigns_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<campaigns::handler::Deps, _>(campaigns::handler::handle).await
}

#[tokio::test]
async fn contracts_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<contracts::handler::Deps, _>(contracts::handler::handle).await
}

#[tokio::test]
async fn fulfillment_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<fulfillment::handler::Deps, _>(fulfillment::handler::handle).await
}

#[tokio::test]
async fn inventory_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<inventory::handler::Deps, _>(inventory::handler::handle).await
}

#[tokio::test]
async fn notifications_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<notifications::handler::Deps, _>(notifications::handler::handle).await
}

#[tokio::test]
async fn order_history_run_again_late_changes_nothing_and_publishes_nothing() -> TestResult {
    every_late_run_of::<order_history::handler::Deps, _>(order_history::handler::handle).await
}
