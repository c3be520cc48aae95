"""`cxstream report`: a run's metrics and the benchmark results as one HTML page with inline SVG.

People would rather look than read: throughput per job, latency percentiles per output topic and
alerts over time, each a chart with the numbers next to it. The page is self-contained (no
scripts, no external files), so it can be mailed or attached to a ticket.

Inputs:
- ``bench/results/*.json`` written by `cxstream bench` (each has a ``results`` list with
  ``events_per_s`` and ``latency_ms`` per output topic);
- a run directory written by `cxstream run` (``.cxstream/runs/<time>/metrics.jsonl``: one snapshot of
  the connector's per-topic metrics every few seconds, see cxstream.metrics);
- the ``cx.alerts`` topic, when a broker is reachable.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from cxstream.paths import BENCH_RESULTS_DIR, sub_dir
from cxstream.svgchart import bar_chart, fmt, line_chart, timeline

PERCENTILES = ("p50", "p95", "p99")


# ---- inputs -------------------------------------------------------------------------------------

def load_bench(paths: list[Path]) -> list[dict[str, Any]]:
    """Benchmark results, one dict per (file, result), skipping files without a results list."""
    rows = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            continue
        for r in results:
            if isinstance(r, dict) and "name" in r:
                rows.append({"file": path.name, "started": data.get("started", ""), **r})
    return rows


def load_run(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def latest_run_dir() -> Path | None:
    runs = sorted(p for p in sub_dir("runs").iterdir() if (p / "metrics.jsonl").exists())
    return runs[-1] if runs else None


def read_alerts(bootstrap: str, topic_prefix: str = "", quiet_s: float = 2.0) -> list[dict[str, Any]] | None:
    """Every alert on cx.alerts (latest version per kind, subject and window); None without the topic."""
    from cxstream.consume import TopicReader

    latest: dict[tuple, dict[str, Any]] = {}
    try:
        reader = TopicReader(bootstrap, [topic_prefix + "cx.alerts"], topic_prefix=topic_prefix)
    except RuntimeError:  # the topic does not exist: nothing to draw
        return None
    with reader:
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = reader.poll(300)
            if batch:
                last = time.monotonic()
            for m in batch:
                if m.record:
                    r = m.record
                    latest[(r.get("kind"), r.get("subject"), r.get("window_start"))] = r
    return list(latest.values())


# ---- sections -----------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def bench_sections(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<h2>Benchmarks</h2><p>No benchmark results given (run <code>cxstream bench</code>).</p>"
    labels = [f"{r['name']} ({r['file'].removesuffix('.json')})" for r in rows]
    rates = [float(r["events_per_s"]) if r.get("events_per_s") is not None else None for r in rows]
    out = ["<h2>Throughput</h2>",
           "<p>Input events per second each benchmark run sustained (<code>events_per_s</code>).</p>",
           bar_chart(labels, {"events/s": rates}, "events/s"),
           _table(["benchmark", "input events", "events/s", "offered rate", "achieved rate"],
                  [[lab, fmt(float(r.get("input_events", 0))), fmt(rate) if rate is not None else "-",
                    fmt(float(r["offered_rate"])) if r.get("offered_rate") is not None else "-",
                    fmt(float(r["achieved_rate"])) if r.get("achieved_rate") is not None else "-"]
                   for lab, r, rate in zip(labels, rows, rates, strict=True)])]
    topics, table = [], []
    series: dict[str, list[float | None]] = {p: [] for p in PERCENTILES}
    for r in rows:
        for topic, lat in sorted((r.get("latency_ms") or {}).items()):
            topics.append(f"{topic} ({r['name']}, {r['file'].removesuffix('.json')})")
            for p in PERCENTILES:
                series[p].append(float(lat[p]) if lat.get(p) is not None else None)
            table.append([topic, r["name"], r["file"]] + [fmt(float(lat[p])) if lat.get(p) is not None else "-"
                                                          for p in PERCENTILES]
                         + [fmt(float(lat.get("samples", 0)))])
    out.append("<h2>Latency per output topic</h2>")
    if topics:
        out += ["<p>Milliseconds from when a result could exist (event time, or window end plus the "
                "watermark delay) to when it was read from its topic.</p>",
                bar_chart(topics, series, "ms"),
                _table(["topic", "benchmark", "file", "p50 ms", "p95 ms", "p99 ms", "samples"], table)]
    else:
        out.append("<p>The benchmark results carry no latency.</p>")
    return "\n".join(out)


def run_sections(snapshots: list[dict[str, Any]]) -> str:
    if len(snapshots) < 2:
        return ("<h2>Run metrics</h2><p>No run metrics (<code>cxstream run</code> records them under "
                "<code>.cxstream/runs/</code>).</p>")
    t0 = snapshots[0]["time"]
    rate_series: dict[str, list[tuple[float, float]]] = {}
    lag_series: dict[str, list[tuple[float, float]]] = {}
    for prev, cur in zip(snapshots, snapshots[1:], strict=False):
        dt = cur["time"] - prev["time"]
        if dt <= 0:
            continue
        for topic, st in cur["topics"].items():
            before = prev["topics"].get(topic, {})
            now_total = st["records_in"] + st["records_out"]
            then_total = before.get("records_in", 0) + before.get("records_out", 0)
            rate_series.setdefault(topic, []).append((cur["time"] - t0, max(0.0, now_total - then_total) / dt))
            if st.get("records_out") and st.get("lag_ms") and "0.99" in st["lag_ms"]:
                lag_series.setdefault(f"{topic} p99", []).append((cur["time"] - t0, st["lag_ms"]["0.99"]))
                lag_series.setdefault(f"{topic} p50", []).append((cur["time"] - t0, st["lag_ms"]["0.5"]))
    last = snapshots[-1]["topics"]
    rows = []
    for topic, st in sorted(last.items()):
        lag = st.get("lag_ms") or {}
        rows.append([topic, fmt(st["records_in"]), fmt(st["records_out"]), fmt(st["to_dlq"])]
                    + [fmt(lag[q]) if q in lag else "-" for q in ("0.5", "0.95", "0.99")])
    span = snapshots[-1]["time"] - t0
    return "\n".join([
        "<h2>Run: records per second by topic</h2>",
        f"<p>{len(snapshots)} snapshots over {fmt(span)} s, from the connector's per-topic counters.</p>",
        line_chart(rate_series, "records/s"),
        "<h2>Run: end-to-end latency of outputs</h2>",
        "<p>When a result was written minus its event time (a window's end), over the last 1,000 "
        "records of each output topic.</p>",
        line_chart(lag_series, "ms") if lag_series else "<p>No output latency recorded.</p>",
        _table(["topic", "records in", "records out", "to DLQ (undecodable)", "lag p50 ms", "lag p95 ms",
                "lag p99 ms"], rows),
    ])


def _when(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value) / 1000
    if isinstance(value, datetime):
        return value.timestamp()
    return None


def alert_sections(alerts: list[dict[str, Any]] | None) -> str:
    if alerts is None:
        return "<h2>Alerts</h2><p>cx.alerts was not read (no broker reachable).</p>"
    if not alerts:
        return "<h2>Alerts</h2><p>cx.alerts holds no alerts.</p>"
    marks = []
    for a in alerts:
        t = _when(a.get("window_end")) or _when(a.get("last_seen"))
        if t is not None:
            marks.append((str(a.get("kind")), t, f"{a.get('kind')} {a.get('subject')}: {a.get('detail') or ''}"))
    lanes = sorted({m[0] for m in marks})
    t0 = min((m[1] for m in marks), default=0.0)
    start = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if marks else ""
    marks = [(lane, (t - t0) / 60, tip) for lane, t, tip in marks]
    by_kind: dict[str, int] = {}
    for a in alerts:
        by_kind[str(a.get("kind"))] = by_kind.get(str(a.get("kind")), 0) + 1
    rows = [[k, str(n)] for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1])]
    return "\n".join([
        "<h2>Alerts over time</h2>",
        f"<p>{len(alerts)} alerts; each dot is one alert at its window's end.</p>",
        timeline(lanes, marks, f"minutes after {start}"),
        _table(["kind", "alerts"], rows),
    ])


STYLE = """body{font-family:sans-serif;max-width:820px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}h2{margin-top:2em}"""


def render(bench: list[dict[str, Any]], snapshots: list[dict[str, Any]],
           alerts: list[dict[str, Any]] | None, sources: list[str]) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    src = "".join(f"<li>{escape(s)}</li>" for s in sources)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>cxstream report</title>"
            f"<style>{STYLE}</style></head><body><h1>cxstream report</h1><p>Made {made} from:</p>"
            f"<ul>{src}</ul>{bench_sections(bench)}{run_sections(snapshots)}{alert_sections(alerts)}"
            "</body></html>\n")


# ---- command line -------------------------------------------------------------------------------

def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bench", nargs="*", type=Path, default=None,
                   help="benchmark JSON files (default: bench/results/*.json)")
    p.add_argument("--run", type=Path, default=None, help="a run directory (default: the latest under .cxstream/runs)")
    p.add_argument("--no-alerts", action="store_true", help="do not read cx.alerts")
    p.add_argument("--bootstrap-servers", help="where to read cx.alerts (default: the running local broker)")
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--out", type=Path, default=Path("cxstream-report.html"))


def main(args: argparse.Namespace) -> int:
    from cxstream import broker

    bench_paths = args.bench if args.bench is not None else sorted(BENCH_RESULTS_DIR.glob("*.json"))
    run_dir = args.run or latest_run_dir()
    alerts = None
    sources = [str(p) for p in bench_paths]
    if run_dir:
        sources.append(str(run_dir / "metrics.jsonl"))
    if not args.no_alerts:
        state = broker.status()
        bootstrap = args.bootstrap_servers or (state.bootstrap_servers if state else None)
        if bootstrap and broker.answers(bootstrap, timeout_s=3):
            alerts = read_alerts(bootstrap, args.topic_prefix)
            sources.append(f"{args.topic_prefix}cx.alerts on {bootstrap}")
    html = render(load_bench(bench_paths), load_run(run_dir) if run_dir else [], alerts, sources)
    args.out.write_text(html)
    print(f"report written to {args.out.resolve()}")
    return 0
