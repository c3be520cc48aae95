"""`cxstream reference build`: a drift reference profile from a file, a topic, or simulated traffic.

The profile fixes each monitored feature's bins and the reference's shares in them (see
udfs/drift.py); the drift job compares every window with it. Build one from a period you trust:
a JSONL file of interaction and message records, what is on the interactions and messages topics
(optionally between two event times), or the simulator's no-drift traffic (how reference/default.json
was made).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from cxstream.paths import REPO_ROOT

# The features drift.sql monitors: name → (the contract its values come from, kind, how to pick the value
# from one record of that contract; ... = the record does not carry the feature). Keep in step with it.
ITEM_EVENTS = ("add_to_cart", "remove_from_cart", "purchase")
FEATURES = {
    "amount": ("interaction", "numeric", lambda r: r.get("amount") if r.get("event_type") in ITEM_EVENTS else ...),
    "channel": ("interaction", "categorical", lambda r: r.get("channel")),
    "event_type": ("interaction", "categorical", lambda r: r.get("event_type")),
    # Scored with the same model as the sentiment job; customers' turns only, as there.
    "sentiment_compound": ("message", "numeric", lambda r: r["compound"] if r.get("sender") == "customer" else ...),
}


def contract_of(record: dict) -> str | None:
    """Which input contract a decoded record belongs to (files and mixed reads carry several)."""
    if "event_id" in record and "event_type" in record:
        return "interaction"
    if "message_id" in record and "text" in record:
        return "message"
    return None


def _drift_module():  # noqa: ANN202 - the udfs/drift.py module
    sys.path.insert(0, str(REPO_ROOT / "udfs"))
    import drift

    return drift


def _with_compound(messages: list[dict]) -> list[dict]:
    """Messages with their VADER compound score, from the sentiment job's own scoring function."""
    if not messages:
        return []
    import pandas as pd

    sys.path.insert(0, str(REPO_ROOT / "udfs"))
    import sentiment

    scores = sentiment.compound_scores(pd.Series([m.get("text") for m in messages]))
    return [{**m, "compound": float(s)} for m, s in zip(messages, scores, strict=True)]


def build_profile(records: Iterable[dict], name: str, source: str) -> dict:
    drift = _drift_module()
    by_contract: dict[str, list[dict]] = {"interaction": [], "message": []}
    for r in records:
        kind = contract_of(r)
        if kind:
            by_contract[kind].append(r)
    by_contract["message"] = _with_compound(by_contract["message"])
    features = {}
    for feature, (contract, kind, pick) in FEATURES.items():
        values = [v for v in (pick(r) for r in by_contract[contract]) if v is not ...]
        if values:
            features[feature] = drift.build_feature(kind, values)
    missing = sorted(set(FEATURES) - set(features))
    if missing:
        raise ValueError(f"no values for {', '.join(missing)}: a reference needs interactions and customer "
                         "messages (give both topics, or a file with both kinds of record)")
    return {"id": name, "built_from": source, "records": sum(len(v) for v in by_contract.values()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "features": features}


def _from_file(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _from_topic(args: argparse.Namespace) -> list[dict]:
    from cxstream import broker
    from cxstream.consume import TopicReader

    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers, start_local=False)
    out: list[dict] = []
    with TopicReader(bootstrap, args.from_topic, value_format=args.format,
                     topic_prefix=args.topic_prefix) as reader:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2:
            batch = reader.poll(200)
            if batch:
                quiet_since = time.monotonic()
            out += [m.record for m in batch if m.record is not None]
    return [r for r in out if (args.start is None or r["event_time"] >= args.start)
            and (args.end is None or r["event_time"] < args.end)]


# The simulator's world settles in its first half hour of event time (carts fill, cheap repeat
# purchases start), so a reference taken from its first minutes would flag its steady state as drift.
SIMULATOR_WARM_UP_MS = 30 * 60_000


def _from_simulator(events: int, seed: int) -> list[dict]:
    """`events` interactions after the warm-up, with the messages of the same stretch of event time."""
    from cxstream.simulator import SimulatorConfig, generate

    config = SimulatorConfig(seed=seed, clock="simulated", rate=0)
    out: list[dict] = []
    start: int | None = None
    taken = 0
    for e in generate(config):
        if not (e.good and e.contract in ("interaction", "message") and e.record and not e.duplicate):
            continue
        start = e.record["event_time"] if start is None else start
        if e.record["event_time"] - start >= SIMULATOR_WARM_UP_MS:
            out.append(e.record)
            taken += e.contract == "interaction"
            if taken >= events:
                return out
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    action = p.add_subparsers(dest="reference_command", metavar="ACTION", required=True)
    b = action.add_parser("build", help="build a reference profile")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-file", metavar="JSONL",
                     help="interaction and message records, one JSON object per line")
    src.add_argument("--from-topic", metavar="TOPIC", action="append",
                     help="read this topic (repeat it: the interactions topic and the messages topic)")
    src.add_argument("--from-simulator", type=int, metavar="EVENTS",
                     help="simulated no-drift traffic: this many interactions and the messages beside them")
    b.add_argument("--start", type=int, default=None, help="with --from-topic: first event time (epoch ms)")
    b.add_argument("--end", type=int, default=None, help="with --from-topic: end event time, exclusive (epoch ms)")
    b.add_argument("--seed", type=int, default=0, help="with --from-simulator")
    b.add_argument("--format", choices=("avro", "json"), default="avro")
    b.add_argument("--topic-prefix", default="", help="with --from-topic: the suite's topic prefix, if any")
    b.add_argument("--bootstrap-servers", help="with --from-topic: Kafka bootstrap servers (default: "
                   "$CXSTREAM_BOOTSTRAP_SERVERS, then the local broker)")
    b.add_argument("--name", default=None, help="the profile's id (default: the output file's stem)")
    b.add_argument("--out", required=True, help="where to write the profile, e.g. reference/default.json")


def main(args: argparse.Namespace) -> int:
    if args.from_file:
        records, source = _from_file(args.from_file), f"file {args.from_file}"
    elif args.from_topic:
        records, source = _from_topic(args), f"topics {', '.join(args.from_topic)} [{args.start}, {args.end})"
    else:
        records = _from_simulator(args.from_simulator, args.seed)
        source = f"simulator, {args.from_simulator} events, seed {args.seed}"
    out = Path(args.out)
    profile = build_profile(records, args.name or out.stem, source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(profile, indent=1) + "\n")
    sizes = ", ".join(f"{k}: {v['sample_size']:,}" for k, v in profile["features"].items())
    print(f"wrote {out}: {len(records):,} records ({sizes})")
    return 0
