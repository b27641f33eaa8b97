//! Matching throughput: 10,000 shop events against 50 realistic rules (sources, detail-types,
//! schema-version lists, numeric ranges, prefixes, anything-but, `$or`), each event tested against
//! every rule as a bus would. Prints events per second; asserts nothing about speed.
//!
//! Run with `cargo bench -p event-pattern`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use event_pattern::{Pattern, PatternError};
use serde_json::{Value, json};

const EVENTS: usize = 10_000;
const ROUNDS: usize = 5;
const SEED: u64 = 0x00C0_FFEE;

const SOURCES: [&str; 5] = [
    "shop.orders",
    "shop.payments",
    "shop.fulfillment",
    "shop.catalog",
    "shop.campaigns",
];
const DETAIL_TYPES: [&str; 8] = [
    "OrderPlaced",
    "OrderCancelled",
    "PaymentCaptured",
    "PaymentFailed",
    "ShipmentDispatched",
    "PriceChanged",
    "CampaignStarted",
    "CampaignEnded",
];
const COUNTRIES: [&str; 6] = ["FR", "DE", "US", "GB", "JP", "BR"];
const TIERS: [&str; 3] = ["bronze", "silver", "gold"];

fn main() -> Result<(), PatternError> {
    let rules = rules()?;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let events: Vec<Value> = (0..EVENTS).map(|i| event(&mut rng, i)).collect();

    let mut timings = Vec::with_capacity(ROUNDS);
    let mut matched = 0usize;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        matched = 0;
        for event in &events {
            for rule in &rules {
                if rule.matches(black_box(event)) {
                    matched += 1;
                }
            }
        }
        timings.push(start.elapsed());
        black_box(matched);
    }
    timings.sort();
    let median = timings[ROUNDS / 2];
    let best = timings[0];
    let per_second = |d: Duration| EVENTS as f64 / d.as_secs_f64();
    println!(
        "event-pattern match: {EVENTS} events x {} rules, {matched} matches per round, {ROUNDS} rounds",
        rules.len()
    );
    println!(
        "  median {:.1} ms/round = {:.0} events/s ({:.0} rule evaluations/s); best {:.0} events/s",
        median.as_secs_f64() * 1e3,
        per_second(median),
        per_second(median) * rules.len() as f64,
        per_second(best),
    );
    Ok(())
}

/// Fifty rules in the shapes a shop's consumers use.
fn rules() -> Result<Vec<Pattern>, PatternError> {
    let mut rules = Vec::with_capacity(50);
    for i in 0..50 {
        let source = SOURCES[i % SOURCES.len()];
        let detail_type = DETAIL_TYPES[i % DETAIL_TYPES.len()];
        let other_type = DETAIL_TYPES[(i + 3) % DETAIL_TYPES.len()];
        let rule = match i % 5 {
            0 => json!({
                "source": [source],
                "detail-type": [detail_type, other_type],
                "detail": { "metadata": { "schema_version": ["1", "2"] } }
            }),
            1 => json!({
                "source": [source],
                "detail-type": [detail_type],
                "detail": {
                    "metadata": { "schema_version": ["2"] },
                    "total": [{ "numeric": [">=", (i * 10) as f64, "<", (i * 10 + 400) as f64] }]
                }
            }),
            2 => json!({
                "source": [{ "prefix": "shop." }],
                "detail-type": [detail_type],
                "detail": { "customer": { "country": [{ "anything-but": ["US", "GB"] }] } }
            }),
            3 => json!({
                "source": [source],
                "detail": {
                    "metadata": { "schema_version": ["1", "2", "3"] },
                    "$or": [
                        { "total": [{ "numeric": [">", 900] }] },
                        { "customer": { "tier": ["gold"] } }
                    ]
                }
            }),
            _ => json!({
                "source": [source, SOURCES[(i + 1) % SOURCES.len()]],
                "detail-type": [{ "prefix": &detail_type[..5] }],
                "resources": [{ "prefix": "arn:aws:shop:eu-west-1" }],
                "detail": { "currency": [{ "equals-ignore-case": "eur" }] }
            }),
        };
        rules.push(Pattern::parse(&rule)?);
    }
    Ok(rules)
}

/// A shop event with the envelope EventBridge delivers and a Herald-style detail.
fn event(rng: &mut fastrand::Rng, i: usize) -> Value {
    let items: Vec<Value> = (0..rng.usize(1..4))
        .map(|n| json!({ "sku": format!("SKU-{}", rng.u32(1000..9999)), "quantity": n + 1 }))
        .collect();
    json!({
        "version": "0",
        "id": format!("7bf73129-1428-4cd3-a780-{i:012}"),
        "detail-type": DETAIL_TYPES[rng.usize(..DETAIL_TYPES.len())],
        "source": SOURCES[rng.usize(..SOURCES.len())],
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "eu-west-1",
        "resources": [format!("arn:aws:shop:eu-west-1:123456789012:order/{i}")],
        "detail": {
            "metadata": {
                "schema_version": (["1", "2", "3"][rng.usize(..3)]),
                "correlation_id": format!("c-{}", rng.u64(..)),
                "causation_id": format!("e-{}", rng.u64(..))
            },
            "order_id": format!("o-{i}"),
            "total": f64::from(rng.u32(0..100_000)) / 100.0,
            "currency": (["EUR", "eur", "USD"][rng.usize(..3)]),
            "customer": {
                "id": format!("cust-{}", rng.u32(..)),
                "country": COUNTRIES[rng.usize(..COUNTRIES.len())],
                "tier": TIERS[rng.usize(..TIERS.len())]
            },
            "items": items
        }
    })
}
