//! One CloudWatch dashboard per stack, so an operator sees every consumer on one page instead of
//! 37 separate alarms: a first row for the bus (events no consumer's rule takes, waiting in the
//! unrouted queue), then one row per consumer — invocations and errors, duration (average and
//! p99), its dead-letter queue's depth, the guard's outcomes (`Events` by `outcome`, found with a
//! `SEARCH` over the dimension values the functions write), and its uncatalogued and deferred
//! events.
//!
//! The body is CloudWatch's dashboard JSON, written with `serde_json` and placed in a `!Sub` so
//! the region, the function names and the queue names resolve at deploy time.

use serde_json::{Value, json};

use crate::declaration::Declaration;
use crate::render::{dead_letter_queue_id, pascal};
use crate::unrouted;
use crate::yaml::{Node, map, str, sub};

/// The dashboard's logical id.
pub const DASHBOARD_ID: &str = "OperationsDashboard";

/// Herald's metric namespace, as the functions write it (`herald::emf::NAMESPACE`).
const NAMESPACE: &str = "Herald";

/// Columns of a dashboard row.
const ROW_WIDTH: u32 = 24;

/// Height of every widget.
const HEIGHT: u32 = 6;

/// The dashboard, by logical id.
pub fn resources(declarations: &[Declaration]) -> Vec<(String, Node)> {
    let body = body(declarations);
    let dashboard = map([
        ("Type", str("AWS::CloudWatch::Dashboard")),
        (
            "Properties",
            map([
                ("DashboardName", sub("${AWS::StackName}")),
                ("DashboardBody", sub(body.to_string())),
            ]),
        ),
    ]);
    vec![(DASHBOARD_ID.to_owned(), dashboard)]
}

/// The dashboard JSON, with `${…}` placeholders for `!Sub`.
pub fn body(declarations: &[Declaration]) -> Value {
    let unrouted_queue = format!("${{{}.QueueName}}", unrouted::QUEUE_ID);
    let mut widgets = vec![widget(
        0,
        0,
        ROW_WIDTH,
        "the bus: events no consumer's rule takes (unrouted queue)",
        "Maximum",
        json!([[
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            unrouted_queue
        ]]),
    )];
    for (row, declaration) in declarations.iter().enumerate() {
        let name = declaration.name.as_str();
        let y = HEIGHT * (u32::try_from(row).unwrap_or(u32::MAX) + 1);
        let function = format!("${{{}Function}}", pascal(name));
        let queue = format!("${{{}.QueueName}}", dead_letter_queue_id(name));
        let outcomes =
            format!("SEARCH('{{{NAMESPACE},function,outcome}} MetricName=\"Events\" function=\"{name}\"', 'Sum', 60)");
        widgets.extend([
            widget(
                0,
                y,
                5,
                &format!("{name}: invocations and errors"),
                "Sum",
                json!([
                    ["AWS/Lambda", "Invocations", "FunctionName", function],
                    ["AWS/Lambda", "Errors", "FunctionName", function],
                ]),
            ),
            widget(
                5,
                y,
                5,
                &format!("{name}: duration (ms)"),
                "Average",
                json!([
                    ["AWS/Lambda", "Duration", "FunctionName", function, { "stat": "Average" }],
                    ["AWS/Lambda", "Duration", "FunctionName", function, { "stat": "p99" }],
                ]),
            ),
            widget(
                10,
                y,
                5,
                &format!("{name}: dead-letter queue"),
                "Maximum",
                json!([["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue]]),
            ),
            widget(
                15,
                y,
                5,
                &format!("{name}: guard outcomes"),
                "Sum",
                json!([[{ "expression": outcomes, "id": "outcomes" }]]),
            ),
            widget(
                20,
                y,
                4,
                &format!("{name}: uncatalogued and deferred"),
                "Sum",
                json!([
                    [NAMESPACE, "UncataloguedEvents", "function", name],
                    [NAMESPACE, "DeferredEvents", "function", name],
                ]),
            ),
        ]);
    }
    json!({ "widgets": widgets })
}

fn widget(x: u32, y: u32, width: u32, title: &str, stat: &str, metrics: Value) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stat": stat,
            "period": 60,
            "metrics": metrics,
        },
    })
}
