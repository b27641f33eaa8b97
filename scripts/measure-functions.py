#!/usr/bin/env python3
"""Peak memory (max RSS) of each function binary while it handles 1,000 events in a row.

Starts moto server and `cargo lambda watch --release` (the functions' release build, on this
machine's architecture), creates every function's tables, and sends each function 1,000
invocations of a sample it consumes, each with a fresh event_id and order id so every one is a
first delivery that claims, writes and completes. Then reads the function process's VmHWM from
/proc. Prints one line per function. Run through `make measure`.
"""

import copy
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = 1000



def consumers():
    """Function → (sample of the first version it consumes, tables as (env, partition key, sort key)),
    from each consumer crate's [package.metadata.herald] declaration (see shared/herald-infra)."""
    metadata = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
    found = {}
    for package in sorted(metadata["packages"], key=lambda p: p["name"]):
        herald = (package.get("metadata") or {}).get("herald") or {}
        if "consumes" not in herald:
            continue
        tables = [(t["env"], t["partition-key"], t.get("sort-key")) for t in herald.get("tables", [])]
        found[package["name"]] = (herald["consumes"][0] + ".sample.json", tables)
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"nothing listened on {port} within {seconds} s")


def create_table(dynamodb, name, pk, sk):
    keys = [(pk, "HASH")] + ([(sk, "RANGE")] if sk else [])
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
    )


def vm_hwm_kib(binary):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            if pathlib.Path(exe).name != binary:
                continue
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            return int(match.group(1))
    return None


def main():
    moto_port, lambda_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    moto = subprocess.Popen([str(ROOT / ".tools/bin/python"), str(ROOT / "scripts/moto_server.py"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = None
    try:
        wait_for(moto_port, 30)
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        env = {"IDEMPOTENCY_TABLE": "idempotency", "EVENT_BUS_NAME": "shop", "AWS_ENDPOINT_URL": endpoint,
               "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "RUST_LOG": "warn"}
        create_table(dynamodb, "idempotency", "id", None)
        functions = consumers()
        for _, tables in functions.values():
            for var, pk, sk in tables:
                env[var] = var.lower()
                create_table(dynamodb, var.lower(), pk, sk)
        session.client("events", endpoint_url=endpoint).create_event_bus(Name="shop")
        for sku in ("SKU-LAPTOP-14", "SKU-MOUSE-01"):
            dynamodb.put_item(TableName="stock_table", Item={
                "sku": {"S": sku}, "available": {"N": str(10 * EVENTS)}, "reserved": {"N": "0"}})

        args = [str(ROOT / ".tools/bin/cargo-lambda"), "lambda", "watch", "--release", "--quiet", "--ignore-changes",
                "-A", "127.0.0.1", "-P", str(lambda_port)]
        for key, value in env.items():
            args += ["--env-var", f"{key}={value}"]
        watch = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        wait_for(lambda_port, 120)

        print(f"{'function':<15} {'events':>6} {'failed':>6} {'max RSS':>9} {'per event':>10}")
        for name, (sample, _) in functions.items():
            template = json.loads((ROOT / "events" / sample).read_text())
            url = f"http://127.0.0.1:{lambda_port}/2015-03-31/functions/{name}/invocations"
            failed, started = 0, None
            for n in range(EVENTS):
                event = copy.deepcopy(template)
                event["id"] = str(uuid.uuid4())
                event["detail"]["metadata"]["event_id"] = str(uuid.uuid4())
                event["detail"]["data"]["order_id"] = f"ord-{200000 + n}"
                request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=300) as response:
                        body = json.loads(response.read() or b"null")
                except urllib.error.HTTPError:
                    body = None
                if not isinstance(body, dict) or "outcome" not in body:
                    failed += 1
                if started is None:
                    started = time.time()  # the first invocation includes the release build
            elapsed = time.time() - started
            kib = vm_hwm_kib(name)
            rss = f"{kib / 1024:.1f} MB" if kib else "unknown"
            print(f"{name:<15} {EVENTS:>6} {failed:>6} {rss:>9} {elapsed / max(EVENTS - 1, 1) * 1000:>7.1f} ms")
    finally:
        if watch:
            os.killpg(watch.pid, signal.SIGINT)
            watch.wait(timeout=30)
        moto.terminate()


if __name__ == "__main__":
    main()
