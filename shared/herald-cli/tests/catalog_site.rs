//! `herald catalog build` on the project, with the site loaded page by page in headless Chromium
//! (Debian's `/usr/bin/chromium`, see `support::browser`): no console errors, no failed loads,
//! every link resolves, and the pages say what the catalog derives.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::browser::check_site;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of the page's section that starts at the heading `from` and ends at the next of
/// `until` (or the end of the page).
fn section<'a>(text: &'a str, from: &str, until: &[&str]) -> Option<&'a str> {
    let start = text.find(from)?;
    let rest = &text[start + from.len()..];
    let end = until.iter().filter_map(|h| rest.find(h)).min().unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn the_built_site_loads_cleanly_in_chromium_and_shows_the_derived_producers_and_consumers() -> TestResult {
    // Given the site built from the project's catalog, template and functions
    let out = tempfile::Builder::new().prefix("herald-catalog-site-").tempdir()?;
    let site = out.path().join("site");
    let built = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["catalog", "build", "--out"])
        .arg(&site)
        .current_dir(root())
        .output()?;
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(
        built.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(stdout.contains("catalog build: "), "{stdout}");

    // When every page reachable from the index is loaded in headless Chromium
    let report = check_site(&site, "index.html")?;

    // Then nothing went wrong on any page, and every event and function page was reached
    assert!(report.problems.is_empty(), "{report}");
    for page in [
        "events/shop.orders/OrderCancelled.html",
        "events/shop.orders/OrderPlaced.html",
        "events/aws.cloudwatch/CloudWatch%20Alarm%20State%20Change.html",
        "functions/inventory.html",
        "functions/redrive.html",
    ] {
        let decoded = page.replace("%20", " ");
        assert!(
            report.page(page).or_else(|| report.page(&decoded)).is_some(),
            "{page} not reached: {:?}",
            report.pages.iter().map(|p| &p.path).collect::<Vec<_>>()
        );
    }

    // And the OrderCancelled page lists contracts, inventory and fulfillment as its consumers
    let cancelled = report
        .text_of("events/shop.orders/OrderCancelled.html")
        .ok_or("no OrderCancelled page")?;
    let consumers = section(cancelled, "Consumers", &["Version 1", "Fields of"]).ok_or(cancelled)?;
    for function in ["contracts", "inventory", "fulfillment", "order-history"] {
        assert!(
            consumers.contains(function),
            "{function} not among the consumers:\n{consumers}"
        );
    }
    for not_a_consumer in ["billing", "campaigns", "notifications"] {
        assert!(
            !consumers.contains(not_a_consumer),
            "{not_a_consumer} listed:\n{consumers}"
        );
    }
    // …and its producer is the order system, declared in events/
    let producers = section(cancelled, "Producers", &["Consumers"]).ok_or(cancelled)?;
    assert!(producers.contains("order-service"), "{producers}");

    // And a function's page says what it consumes and what it emits
    let inventory = report.text_of("functions/inventory.html").ok_or("no inventory page")?;
    for event in [
        "OrderPlaced",
        "OrderCancelled",
        "OrderReturned",
        "StockReserved",
        "StockShortage",
    ] {
        assert!(
            inventory.contains(event),
            "{event} missing on inventory's page:\n{inventory}"
        );
    }
    Ok(())
}
