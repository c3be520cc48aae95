"""Job metrics: Flink's Prometheus reporter in the local profile, and reading what it serves.

Measured, not assumed (apache-flink 2.3.0 wheel): the reporter ships as
``pyflink/plugins/metrics-prometheus/flink-metrics-prometheus-2.3.0.jar``, but the embedded
MiniCluster that PyFlink starts does not load ``plugins/`` (its log says "The reporter factory
(...PrometheusReporterFactory) could not be found ... Available factories: []"). Put on
``pipeline.jars`` instead, the same jar is found and the reporter serves ``/metrics``. On a real
cluster the plugin directory works as documented and this module is not needed.

Besides Flink's own metrics, the cxstream connector reports per topic (label ``topic``):
``..._topic_records`` (records read by a source or written by a sink), ``..._topic_recordsToDlq``
(undecodable records dead-lettered by a source) and ``..._topic_eventTimeLagMs`` (a summary with
quantiles: wall clock minus event time when a record was read or written).
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
PORT_SPAN = 20  # ports the reporter may try, from the first free one we found

# What a port in the reporter's range answers when it is not (or not yet) the reporter. The range
# starts at an ephemeral port, where other servers live too: Beam's gRPC servers for the Python
# workers answer an HTTP/1 request with HTTP/2 frames, which http.client reports as BadStatusLine
# (an HTTPException, not an OSError) whose text is those binary bytes.
NOT_THE_REPORTER = (OSError, http.client.HTTPException)

_LINE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def prometheus_jar() -> Path:
    from cxstream.jars import pyflink_dir

    jars = sorted((pyflink_dir() / "plugins" / "metrics-prometheus").glob("flink-metrics-prometheus-*.jar"))
    if not jars:
        raise FileNotFoundError("the apache-flink wheel has no plugins/metrics-prometheus jar")
    return jars[-1]


def reporter_config(first_port: int) -> dict[str, str]:
    """Flink options that start the Prometheus reporter on a port in [first_port, first_port+SPAN)."""
    return {
        "metrics.reporter.prom.factory.class": PROMETHEUS_FACTORY,
        "metrics.reporter.prom.port": f"{first_port}-{first_port + PORT_SPAN - 1}",
    }


def port_range(conf: dict[str, str]) -> tuple[int, int] | None:
    spec = conf.get("metrics.reporter.prom.port")
    if not spec:
        return None
    lo, _, hi = spec.partition("-")
    return int(lo), int(hi or lo)


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    """Samples of the Prometheus text exposition format (comments skipped)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append(Sample(m.group(1), labels, value))
    return out


def scrape(url: str, timeout_s: float = 5.0) -> list[Sample]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - our own loopback URL
        return parse(response.read().decode("utf-8", "replace"))


def find_endpoint(ports: tuple[int, int], job_id: str, timeout_s: float = 60.0) -> str | None:
    """The /metrics URL in the port range that serves this job's metrics (None after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:  # at least one pass, even with timeout_s=0
        for port in range(ports[0], ports[1] + 1):
            url = f"http://127.0.0.1:{port}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if job_id in response.read().decode("utf-8", "replace"):
                        return url
            except NOT_THE_REPORTER:
                continue
        if time.monotonic() >= deadline:
            return None
        time.sleep(1)


@dataclass
class TopicStats:
    records_in: float = 0.0
    records_out: float = 0.0
    to_dlq: float = 0.0
    lag_ms: dict[str, float] | None = None  # quantile -> ms (the largest over subtasks)


def label_value(text: str) -> str:
    """How Flink's Prometheus reporter spells a label value (every character but [A-Za-z0-9:_] is '_')."""
    return re.sub(r"[^A-Za-z0-9:_]", "_", text)


def topic_stats(samples: list[Sample], job_id: str | None = None,
                topics: list[str] = ()) -> dict[str, TopicStats]:
    """Per-topic totals of the connector's metrics (sources count in, sinks count out).

    The reporter turns 'cx.signals' into 'cx_signals'; names in ``topics`` are given back their dots.
    """
    names = {label_value(t): t for t in topics}
    stats: dict[str, TopicStats] = {}
    for s in samples:
        topic = s.labels.get("topic")
        if topic is None or (job_id and s.labels.get("job_id") != job_id):
            continue
        topic = names.get(topic, topic)
        st = stats.setdefault(topic, TopicStats())
        # A sink's operator is "<table>: Writer"; a task's name is its whole chain, so not that.
        is_sink = s.labels.get("operator_name", "").endswith("Writer")
        if s.name.endswith("_topic_records"):
            if is_sink:
                st.records_out += s.value
            else:
                st.records_in += s.value
        elif s.name.endswith("_topic_recordsToDlq"):
            st.to_dlq += s.value
        elif s.name.endswith("_topic_eventTimeLagMs") and "quantile" in s.labels:
            st.lag_ms = st.lag_ms or {}
            q = s.labels["quantile"]
            st.lag_ms[q] = max(st.lag_ms.get(q, float("-inf")), s.value)
    return stats


def snapshot(samples: list[Sample], job_id: str | None = None, topics: list[str] = ()) -> dict:
    """One JSON-able snapshot: time, per-topic stats (what `cxstream report` draws)."""
    return {
        "time": time.time(),
        "topics": {t: vars(s) for t, s in sorted(topic_stats(samples, job_id, topics).items())},
    }


class SnapshotWriter:
    """Appends a snapshot per scrape to a JSON-lines file (a run's metrics, for `cxstream report`)."""

    def __init__(self, url: str, path: Path, job_id: str | None = None, topics: list[str] = ()) -> None:
        self.url = url
        self.topics = list(topics)
        self.path = path
        self.job_id = job_id
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self) -> dict | None:
        try:
            snap = snapshot(scrape(self.url), self.job_id, self.topics)
        except NOT_THE_REPORTER:
            return None
        with self.path.open("a") as f:
            f.write(json.dumps(snap) + "\n")
        return snap


# Flink's task time gauges. The ...MsPerSecond ones are moving averages (over the last minute in
# Flink 2.3's TimerGauge), good for a run's mean; accumulateBackPressuredTimeMs counts every
# back-pressured millisecond since the task started, and the max...BackPressureTimeMs gauges give
# the longest single back-pressured stretch of their last update period: what a stall looks like.
TASK_TIME_METRICS = {"busy": "busyTimeMsPerSecond", "backpressured": "backPressuredTimeMsPerSecond",
                     "idle": "idleTimeMsPerSecond", "backpressured_total_ms": "accumulateBackPressuredTimeMs",
                     "longest_soft_backpressure_ms": "maxSoftBackPressureTimeMs",
                     "longest_hard_backpressure_ms": "maxHardBackPressureTimeMs"}


def task_time(samples: list[Sample], job_id: str | None = None) -> dict[str, dict[str, float]]:
    """Per task (a chain of operators) of the job: ms per second busy, back-pressured and idle,
    and the back-pressure counters of TASK_TIME_METRICS.

    Flink's own reading of where a job's time goes: the busiest task whose upstream tasks are
    back-pressured is the bottleneck. Subtasks are averaged (the suite runs at parallelism 1).
    """
    suffixes = {f"_task_{metric}": kind for kind, metric in TASK_TIME_METRICS.items()}
    sums: dict[str, dict[str, list[float]]] = {}
    for s in samples:
        kind = next((k for suffix, k in suffixes.items() if s.name.endswith(suffix)), None)
        if kind is None or (job_id and s.labels.get("job_id") != job_id) or s.value != s.value:  # NaN
            continue
        sums.setdefault(s.labels.get("task_name", "?"), {}).setdefault(kind, []).append(s.value)
    return {task: {kind: sum(v) / len(v) for kind, v in kinds.items()} for task, kinds in sums.items()}
