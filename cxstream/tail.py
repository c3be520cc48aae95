"""`cxstream tail TOPIC`: follow a topic, decoded by its contract, for people and for pipes."""

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
    p.add_argument("--json", action="store_true", help="one JSON object per line (for jq and friends)")
    p.add_argument("--max", type=int, default=0, help="stop after N records (0: run until Ctrl-C)")
    p.add_argument("--topic-prefix", default="")


def _matches(record: dict[str, Any] | None, filters: list[tuple[str, str]]) -> bool:
    if not filters:
        return True
    if record is None:
        return False
    return all(str(record.get(k)) == v for k, v in filters)


def _human(msg: Message) -> str:
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
                     value_format=args.format, topic_prefix=args.topic_prefix) as reader:
        for msg in reader.iter_forever():
            if not _matches(msg.record, filters):
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


