"""`cxstream tail TOPIC`: follow a topic, decoded by its contract, for people and for pipes.

For on-call people: `--kind` and `--severity` (a minimum) filter alerts, alerts print as one readable
line each (OPEN / RESOLVED, how often, since when), and `--group NAME` resumes where the last reader
of that group stopped and records progress as it reads, so a closed terminal loses nothing.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from cxstream import broker
from cxstream.consume import Message, TopicReader


def add_tail_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("topic", help="e.g. cx.signals, cx.dlq, cx.alerts")
    p.add_argument("--from-beginning", action="store_true", help="start at the earliest offset (default: new only)")
    p.add_argument("--format", choices=("avro", "json"), default="avro", help="wire format of the topic")
    p.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                   help="only records whose FIELD equals VALUE (repeatable; e.g. --where severity=critical)")
    p.add_argument("--kind", action="append", default=[], metavar="KIND",
                   help="only records of this kind (repeatable; e.g. --kind dlq_rate --kind fairness)")
    p.add_argument("--severity", choices=SEVERITIES, help="only records of at least this severity")
    p.add_argument("--group", metavar="NAME",
                   help="consumer group: start at the group's committed offsets and commit as records are shown")
    p.add_argument("--json", action="store_true", help="one JSON object per line (for jq and friends)")
    p.add_argument("--max", type=int, default=0, help="stop after N records (0: run until Ctrl-C)")
    p.add_argument("--topic-prefix", default="")


SEVERITIES = ("info", "warning", "critical")


def _matches(record: dict[str, Any] | None, filters: list[tuple[str, str]], kinds: list[str] | None = None,
             min_severity: str | None = None) -> bool:
    if not (filters or kinds or min_severity):
        return True
    if record is None:
        return False
    if kinds and record.get("kind") not in kinds:
        return False
    if min_severity:
        severity = record.get("severity")
        if severity not in SEVERITIES or SEVERITIES.index(severity) < SEVERITIES.index(min_severity):
            return False
    return all(str(record.get(k)) == v for k, v in filters)


def _clock(ms: int | None) -> str:
    return "?" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _alert_line(msg: Message) -> str:
    """One alert as a line an on-call person can read at a glance."""
    a = msg.record or {}
    mark = {"open": "● OPEN    ", "resolved": "✓ RESOLVED"}.get(a.get("state", ""), a.get("state", "?"))
    since = f"×{a.get('count')} since {_clock(a.get('first_seen'))}, last {_clock(a.get('last_seen'))}"
    window = f"window {_clock(a.get('window_start'))}–{_clock(a.get('window_end'))}"
    return (f"{_clock(msg.timestamp_ms)} {mark} {a.get('severity', '?'):<8} {a.get('kind', '?'):<16} "
            f"{a.get('subject', '?')}  observed {_number(a.get('observed'))} (threshold "
            f"{_number(a.get('threshold'))})  {since}  {window}" + (f"  — {a['detail']}" if a.get("detail") else ""))


def _human(msg: Message) -> str:
    if msg.record is not None and {"kind", "subject", "state", "count"} <= set(msg.record):
        return _alert_line(msg)
    when = datetime.fromtimestamp(msg.timestamp_ms / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
    head = f"{when} p{msg.partition}@{msg.offset}"
    if msg.value is None:
        return f"{head} key={msg.key!r} <tombstone>"
    if msg.record is None:
        return f"{head} <{len(msg.value)} bytes{': ' + msg.error if msg.error else ''}>"
    body = "  ".join(f"{k}={v}" for k, v in msg.record.items() if v not in (None, "", {}, []))
    return f"{head}  {body}"


def tail(args: argparse.Namespace) -> int:
    filters = []
    for item in args.where:
        if "=" not in item:
            raise ValueError(f"--where expects FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        filters.append((k, v))
    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers, start_local=False)
    shown = 0
    with TopicReader(bootstrap, [args.topic], from_beginning=args.from_beginning,
                     value_format=args.format, topic_prefix=args.topic_prefix, group_id=args.group) as reader:
        for msg in reader.iter_forever():
            if args.group:
                reader.commit(msg)  # filtered-out records are handled too: never shown on resume
            if not _matches(msg.record, filters, args.kind, args.severity):
                continue
            if args.json:
                out = {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset,
                       "timestamp": msg.timestamp_ms, "key": msg.key.decode("utf-8", "replace") if msg.key else None,
                       "value": msg.record}
                print(json.dumps(out, default=str), flush=True)
            else:
                print(_human(msg), flush=True)
            shown += 1
            if args.max and shown >= args.max:
                break
    return 0


