"""Job metrics scraped from Flink's Prometheus reporter while a real job runs, checked against
what the test produced and against what reached the output topics."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from cxstream import metrics
from cxstream.runtime import RunOptions, build, load_spec
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile
from tests.kafka_io import produce, produce_records, read_settled


def test_parse_reads_prometheus_text_and_maps_topic_labels_back() -> None:
    text = ('# TYPE x counter\n'
            'flink_taskmanager_job_task_operator_topic_records{job_id="j",topic="cx_events_interactions",'
            'operator_name="Source:_x",} 12.0\n'
            'flink_taskmanager_job_task_operator_topic_eventTimeLagMs{job_id="j",topic="cx_signals",'
            'operator_name="signals_3_:_Writer",quantile="0.5",} 250.5\n')
    samples = metrics.parse(text)
    assert [s.value for s in samples] == [12.0, 250.5]
    stats = metrics.topic_stats(samples, "j", ["cx.events.interactions", "cx.signals"])
    assert stats["cx.events.interactions"].records_in == 12.0
    assert stats["cx.signals"].records_out == 0.0 and stats["cx.signals"].lag_ms == {"0.5": 250.5}


@pytest.fixture
def grpc_then_reporter() -> Iterator[tuple[int, int]]:
    """A gRPC server (what Beam starts for the Python workers, on an ephemeral port) and, on a port
    after it, an HTTP server that answers like the reporter of job "job-1": (gRPC port, its port)."""
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    class Reporter(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            body = b'flink_jobmanager_job_uptime{job_id="job-1",} 5.0\n'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    for port in range(grpc_port + 1, grpc_port + metrics.PORT_SPAN):
        try:
            reporter = http.server.HTTPServer(("127.0.0.1", port), Reporter)
            break
        except OSError:  # taken: the reporter would try the next one too
            continue
    else:
        pytest.fail(f"no free port in {grpc_port + 1}..{grpc_port + metrics.PORT_SPAN - 1}")
    threading.Thread(target=reporter.serve_forever, daemon=True).start()
    yield grpc_port, reporter.server_port
    reporter.shutdown()
    reporter.server_close()
    grpc_server.stop(None)


def test_the_reporter_is_found_past_a_grpc_server_in_its_port_range(
        grpc_then_reporter: tuple[int, int], tmp_path: Path) -> None:
    """The range starts at an ephemeral port, and Beam's gRPC servers take ephemeral ports too. A
    gRPC server answers HTTP/1 with HTTP/2 frames, which once ended `cxstream run` with the error
    "cxstream: error: \\x00\\x00\\x1e…" a minute into the run."""
    grpc_port, reporter_port = grpc_then_reporter
    url = metrics.find_endpoint((grpc_port, reporter_port), "job-1", timeout_s=0)
    assert url == f"http://127.0.0.1:{reporter_port}/metrics"
    path = tmp_path / "metrics.jsonl"
    assert metrics.SnapshotWriter(f"http://127.0.0.1:{grpc_port}/metrics", path).write() is None
    assert not path.exists()
    assert metrics.SnapshotWriter(url, path, "job-1").write() is not None


@pytest.mark.slow
def test_prometheus_metrics_count_what_was_produced_during_a_real_run(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    now = int(time.time() * 1000)
    # No more input arrives, so the watermark stops at the newest event time - 5 s, and a window must
    # close below that whatever the wall clock says: t0 on a minute boundary, events over two minutes
    # (600 x 200 ms: t0 .. t0 + 119.8 s). The watermark reaches ~t0 + 114 s: past t0 + 60 s, short of
    # t0 + 120 s, so the windows ending at t0 + 60 s close, and only they. (60 s of events from an
    # unaligned now - 120 s closed none when t0 fell in the first ~5 s of a minute: ~8 % of runs.)
    # Three minutes back: the newest event is over a minute old when produced, as it was before.
    t0 = (now // 60_000 - 3) * 60_000
    good = interactions(600, t0, step_ms=200, seed=3)
    broken = interactions(25, t0 + 100, step_ms=1000, seed=4)
    for i, r in enumerate(broken):  # decodable but against the contract: the job's validate stage
        r["event_id"], r["channel"] = f"bad{i}", "teleport"
    produced_at = int(time.time() * 1000)
    produce_records(bootstrap, profile, "interaction", good + broken,
                    [r["event_time"] for r in good + broken])
    garbage = [(None, b"\x00not avro at all" + bytes([i]), now) for i in range(17)]  # the decode stage
    produce(bootstrap, profile.topic("cx.events.interactions"), garbage)

    topics = [profile.topic(t) for t in ("cx.events.interactions", "cx.signals", "cx.dlq")]
    pipeline = build([load_spec("signals")], profile, RunOptions(checkpoint_interval=None), job_name="test-metrics")
    conf = pipeline.t_env.get_config().get_configuration().to_dict()
    ports = metrics.port_range(conf)
    assert ports is not None, "the local profile enables the Prometheus reporter"
    client = pipeline.execute().get_job_client()
    job_id = str(client.get_job_id())
    try:
        url = metrics.find_endpoint(ports, job_id, timeout_s=180)
        assert url, f"no /metrics answered for job {job_id} on ports {ports}"
        interactions_topic, signals_topic, dlq_topic = topics
        deadline = time.monotonic() + 240
        stats: dict[str, metrics.TopicStats] = {}
        while time.monotonic() < deadline:
            stats = metrics.topic_stats(metrics.scrape(url), job_id, topics)
            src, dlq = stats.get(interactions_topic), stats.get(dlq_topic)
            if (src and dlq and src.records_in == len(good) + len(broken) and src.to_dlq == len(garbage)
                    and dlq.records_out == len(broken) and signals_topic in stats):
                break
            time.sleep(2)
        src = stats[interactions_topic]
        assert src.records_in == len(good) + len(broken), stats
        assert src.to_dlq == len(garbage), stats
        assert stats[dlq_topic].records_out == len(broken), stats
        # Read time minus event time: at least the age of the newest event when it was produced,
        # at most the age of the oldest event now.
        newest = max(r["event_time"] for r in good + broken)
        assert src.lag_ms and set(src.lag_ms) >= {"0.5", "0.95", "0.99"}
        assert produced_at - newest <= src.lag_ms["0.5"] <= time.time() * 1000 - t0, src.lag_ms
        # Records written to cx.signals, by the sink's counter and by reading the topic.
        time.sleep(3)
        written = metrics.topic_stats(metrics.scrape(url), job_id, topics)[signals_topic].records_out
        on_topic = read_settled(bootstrap, profile, "cx.signals")
        assert written == len(on_topic) > 0
        assert stats[signals_topic].lag_ms, "signals carry an end-to-end latency summary"
    finally:
        client.cancel().result()
