"""moto server, with EventBridge archive replays as AWS runs them, served with HTTP keep-alive.

moto 5.2.5 replays an archive synchronously inside StartReplay, sends every archived event to
every rule of the bus, and ignores both the replay's time window and `Destination.FilterArns`.
AWS documents otherwise (StartReplay, "Replaying archived events"): a replay runs in the
background (STARTING, RUNNING, then COMPLETED, or CANCELLED after CancelReplay), sends only the
events received between EventStartTime and EventEndTime, and, when FilterArns is given, only to
those rules. This wrapper puts that behaviour into moto's Replay model and then starts moto's own
server's application with the same `-H`/`-p` arguments as `moto_server`.

moto's own server (werkzeug's development server) answers every request with
`Connection: close`, so an SDK client opens a TCP connection for every call and a benchmark
measures reconnects. This one serves the same WSGI application with waitress, which keeps
HTTP/1.1 connections alive as AWS's endpoints do.

`HERALD_MOTO_REPLAY_DELAY` (seconds, default 0.05) spaces the replayed events, so a test can see
a replay RUNNING and cancel it.
"""

import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

# moto's request recorder (`/moto-api/recorder/…`, off until a test starts it) writes to
# `moto_recording` in the working directory by default: keep it out of the checkout.
os.environ.setdefault(
    "MOTO_RECORDER_FILEPATH",
    os.path.join(tempfile.gettempdir(), f"herald-moto-recording-{os.getpid()}.jsonl"),
)

import argparse

import waitress
from moto.core.utils import unix_time
from moto.events import models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

DELAY = float(os.environ.get("HERALD_MOTO_REPLAY_DELAY", "0.05"))


def _seconds(value):
    """A replay bound or an archived event's time, as Unix seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def _received(event):
    return _seconds(event.get("ingestion-time")) or _seconds(event.get("time"))


def replay_events(self, archive):
    start, end = _seconds(self.event_start_time), _seconds(self.event_end_time)
    filter_arns = set(self.destination.get("FilterArns") or [])
    bus_name = self.destination["Arn"].split("/")[-1]
    backend = models.events_backends[self.account_id][self.region]
    chosen = [e for e in list(archive.events) if start <= (_received(e) or start) <= end]

    def run():
        self.state = models.ReplayState.RUNNING
        for event in chosen:
            if self.state is not models.ReplayState.RUNNING:
                break
            time.sleep(DELAY)
            bus = backend.describe_event_bus(bus_name)
            for rule in list(bus.rules.values()):
                if filter_arns and rule.arn not in filter_arns:
                    continue
                rule.send_to_targets(
                    dict(event, **{"id": str(models.random.uuid4()), "replay-name": self.name}),
                    transform_input=False,
                )
            self.last_replayed = _received(event)
        if self.state is models.ReplayState.RUNNING:
            self.state = models.ReplayState.COMPLETED
        self.end_time = unix_time()

    threading.Thread(target=run, daemon=True).start()


_describe = models.Replay.describe


def describe(self):
    result = _describe(self)
    if getattr(self, "last_replayed", None) is not None:
        result["EventLastReplayedTime"] = self.last_replayed
    return result


_cancel = models.EventsBackend.cancel_replay


def cancel_replay(self, name):
    replay = self._get_replay(name)
    if replay.state is models.ReplayState.COMPLETED:
        raise models.IllegalStatusException(f"Replay {name} is not in a valid state for this operation.")
    return _cancel(self, name)


models.Replay.replay_events = replay_events
models.Replay.describe = describe
models.EventsBackend.cancel_replay = cancel_replay


def serve(argv):
    """Serves moto on `-H HOST -p PORT` until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    # moto builds some URLs (SQS queue URLs, S3 redirects) from the port it serves on.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    # Threads for the test run's parallel clients; connections are kept alive between requests.
    waitress.serve(app, host=args.host, port=args.port, threads=16, ident="moto")


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
