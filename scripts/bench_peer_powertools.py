"""Powertools for AWS Lambda (Python) `@idempotent` on moto: the peer half of `make bench-peer`.

Usage:

    python scripts/bench_peer_powertools.py --endpoint http://127.0.0.1:PORT --events events.jsonl [--table NAME]

`--events` is a file of EventBridge events, one JSON object a line, each with its own
`detail.metadata.event_id` (the Rust half writes OrderPlaced events with fresh ids). To try the
script alone, make such a file from a sample:

    python -c 'import json, sys, uuid; e = json.load(sys.stdin); m = e["detail"]["metadata"]; [m.update(event_id=str(uuid.uuid4())) or print(json.dumps(e)) for _ in range(1000)]' \
        < events/shop.orders/OrderPlaced/v1.sample.json > /tmp/events.jsonl

It creates Powertools' idempotency table (`id` string partition key, PAY_PER_REQUEST) on the
moto endpoint, named `--table` or `powertools-peer-<random>`, and deletes it at the end. The
handler is configured as Herald's guard is: the idempotency key is the event id
(`event_key_jmespath="detail.metadata.event_id"`) and the payload check covers the event's data
(`payload_validation_jmespath="detail.data"`); its body does nothing but return a small dict.
Powertools builds its own DynamoDB client, as in Lambda, sent to moto by
`AWS_ENDPOINT_URL_DYNAMODB`.

Each path hands every event of the file to the handler once, in this process:

* `first`: first delivery of fresh ids (a conditional PutItem claims the id, the handler runs,
  an UpdateItem stores its result: 2 DynamoDB calls an event);
* `duplicate`: the same events again, `use_local_cache=False` (the conditional PutItem fails and
  returns the stored record: 1 call);
* `cached`: the same events again, `use_local_cache=True` with room for every id, after one
  unmeasured pass that fills the cache (0 calls).

Every path has its own persistence layer (so its own client and, for `cached`, its own cache)
and is warmed by one unmeasured event first, so a client's first-call set-up is not counted;
garbage left by what ran before is collected before each measured loop.
Per path it prints the client CPU per event, user + system time of this process from
`getrusage(RUSAGE_SELF)` around the loop (moto runs in another process, so its CPU is not
counted), and the DynamoDB calls per event, counted by a botocore `before-call` hook on the
layer's client. The script fails if the handler did not run exactly once per event on the first
path and never on the others. The TCP connections each path opened go to stderr: 0 when moto
keeps connections alive (scripts/moto_server.py serves it with waitress).

`import` is the cost of `import aws_lambda_powertools.utilities.idempotency` (which imports
boto3): the wall time of `python -c 'import …'` minus that of `python -c pass`, each the fastest
of 5 fresh interpreters.

stdout carries JSON lines only, in this order:

    {"side": "powertools", "versions": {"aws-lambda-powertools": …, "boto3": …, "botocore": …, "python": …}}
    {"side": "powertools", "path": "import", "ms": …}
    {"side": "powertools", "path": "first", "events": N, "cpu_us_per_event": …, "calls_per_event": …}
    … the same for "duplicate" and "cached".

Everything else goes to stderr.
"""

import argparse
import copy
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from importlib.metadata import version

import boto3
import urllib3.connection
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

IMPORT_RUNS = 5

# Handler runs per path, counted by the handler itself.
EXECUTIONS = Counter()

# TCP connections opened by every botocore client in this process.
CONNECTIONS_OPENED = 0
_connect = urllib3.connection.HTTPConnection.connect


def _counting_connect(self):
    global CONNECTIONS_OPENED
    CONNECTIONS_OPENED += 1
    return _connect(self)


urllib3.connection.HTTPConnection.connect = _counting_connect


class LambdaContext:
    """What Lambda passes a handler as its context; Powertools reads the remaining time."""

    function_name = "bench-peer-powertools"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-peer-powertools"
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench-peer-powertools"
    log_stream_name = "bench"

    def __init__(self, timeout_seconds=900):
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class CallCounter:
    """DynamoDB API calls made by one client (retries not included)."""

    def __init__(self, client):
        self.calls = 0
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, **_):
        self.calls += 1


def log(message):
    print(message, file=sys.stderr, flush=True)


def emit(record):
    print(json.dumps({"side": "powertools", **record}), flush=True)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_events(path):
    with open(path, encoding="utf-8") as lines:
        events = [json.loads(line) for line in lines if line.strip()]
    ids = {event["detail"]["metadata"]["event_id"] for event in events}
    if not events or len(ids) != len(events):
        sys.exit(f"{path}: {len(events)} events, {len(ids)} distinct detail.metadata.event_id; need one id per event")
    return events


def with_fresh_id(event):
    fresh = copy.deepcopy(event)
    fresh["detail"]["metadata"]["event_id"] = str(uuid.uuid4())
    return fresh


def create_table(client, name):
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)


def idempotent_handler(path, table, **cache):
    """An `@idempotent` handler with its own persistence layer, and that layer's call counter.

    Every handler made here has the same qualified name, which Powertools puts in the
    idempotency key, so all paths see the same records."""
    persistence = DynamoDBPersistenceLayer(table_name=table)
    config = IdempotencyConfig(
        event_key_jmespath="detail.metadata.event_id",
        payload_validation_jmespath="detail.data",
        raise_on_no_idempotency_key=True,
        **cache,
    )

    @idempotent(persistence_store=persistence, config=config)
    def handler(event, context):
        EXECUTIONS[path] += 1
        return {"order_id": event["detail"]["data"]["order_id"], "accepted": True}

    return handler, CallCounter(persistence.client)


def measure(path, handler, counter, events, context, expected_runs):
    """Runs every event through the handler once; the path's figures."""
    runs, calls, connections = EXECUTIONS[path], counter.calls, CONNECTIONS_OPENED
    # Collect the garbage of what ran before (the warm-up pass leaves reference cycles: failed
    # conditional writes' exception chains), so the loop pays for its own garbage only.
    gc.collect()
    start = cpu_seconds()
    for event in events:
        handler(event, context)
    cpu = cpu_seconds() - start
    runs, calls = EXECUTIONS[path] - runs, counter.calls - calls
    log(f"{path}: {len(events)} events, handler ran {runs} times, {calls} DynamoDB calls, "
        f"{CONNECTIONS_OPENED - connections} TCP connections opened")
    if runs != expected_runs:
        sys.exit(f"{path}: the handler ran {runs} times, expected {expected_runs}")
    return {
        "path": path,
        "events": len(events),
        "cpu_us_per_event": round(cpu / len(events) * 1e6, 1),
        "calls_per_event": round(calls / len(events), 3),
    }


def import_ms():
    """Wall time of importing Powertools' idempotency utility in a fresh interpreter, in ms."""

    def fastest(code):
        times = []
        for _ in range(IMPORT_RUNS):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        return min(times)

    bare = fastest("pass")
    with_import = fastest("import aws_lambda_powertools.utilities.idempotency")
    return round((with_import - bare) * 1000, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--events", required=True, help="EventBridge events, one JSON object a line")
    parser.add_argument("--table", default=f"powertools-peer-{uuid.uuid4().hex[:8]}",
                        help="idempotency table to create (default: powertools-peer-<random>)")
    args = parser.parse_args()

    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

    events = read_events(args.events)
    warm_up = with_fresh_id(events[0])
    context = LambdaContext()

    emit({"versions": {
        "aws-lambda-powertools": version("aws-lambda-powertools"),
        "boto3": version("boto3"),
        "botocore": version("botocore"),
        "python": platform.python_version(),
    }})
    emit({"path": "import", "ms": import_ms()})

    setup = boto3.client("dynamodb")
    if setup.meta.endpoint_url.rstrip("/") != args.endpoint.rstrip("/"):
        sys.exit(f"DynamoDB client goes to {setup.meta.endpoint_url}, not {args.endpoint}")
    create_table(setup, args.table)
    log(f"table {args.table} created on {args.endpoint}; {len(events)} events")
    try:
        first, first_calls = idempotent_handler("first", args.table)
        first(warm_up, context)
        emit(measure("first", first, first_calls, events, context, expected_runs=len(events)))

        duplicate, duplicate_calls = idempotent_handler("duplicate", args.table, use_local_cache=False)
        duplicate(warm_up, context)
        emit(measure("duplicate", duplicate, duplicate_calls, events, context, expected_runs=0))

        cached, cached_calls = idempotent_handler(
            "cached", args.table, use_local_cache=True, local_cache_max_items=len(events) + 1)
        cached(warm_up, context)
        for event in events:
            cached(event, context)
        emit(measure("cached", cached, cached_calls, events, context, expected_runs=0))
    finally:
        setup.delete_table(TableName=args.table)


if __name__ == "__main__":
    main()
