"""moto's EventBridge pattern matcher as an oracle for tests/differential.rs.

Reads JSON lines {"pattern": {...}, "event": {...}} on stdin and writes one line per case:
"1" (matches), "0" (does not match) or "E <error>" (moto refused or crashed). The first line
written is "moto <version>".
"""

import json
import sys
from importlib.metadata import version

from moto.events.models import EventPattern


def verdict(case):
    try:
        pattern = EventPattern.load(json.dumps(case["pattern"]))
        return "1" if pattern.matches_event(case["event"]) else "0"
    except Exception as error:  # noqa: BLE001 - every failure is a verdict to report
        return "E " + repr(error).replace("\n", " ")


def main():
    out = sys.stdout
    out.write(f"moto {version('moto')}\n")
    for line in sys.stdin:
        out.write(verdict(json.loads(line)) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
