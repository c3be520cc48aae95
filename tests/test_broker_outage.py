"""What a running job does when its broker goes away and comes back (README, "When the broker fails").

The job's Kafka clients retry while the broker is away and the job keeps running. The local broker
keeps nothing across a restart (memory storage), so it comes back empty: the topics have to be
created again, and offsets start again at 0, below the positions the job had reached. The job
carries on from those positions: records written at offsets below them are skipped. The test
measures exactly that, so the README can say it: with the local broker, restart the suite after
restarting the broker; on a durable cluster, offsets survive and nothing is skipped.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cxstream import broker
from cxstream.paths import REPO_ROOT
from cxstream.runtime import RunOptions, build, load_spec
from cxstream.sample_data import interactions
from tests import flink_log
from tests.broker_proxy import BrokerProxy
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import produce_records, read_all, read_settled, run_bounded

pytestmark = pytest.mark.slow


def _start(port: int, log) -> object:
    proc = broker.spawn(port, log)
    broker.wait_until_answering(proc, f"127.0.0.1:{port}", log)
    return proc


def _stop(proc) -> None:
    proc.send_signal(2)
    try:
        proc.wait(10)
    except Exception:  # noqa: BLE001 - a broker that ignores SIGINT is killed
        proc.kill()


def _tear_down(client: Any, proc: subprocess.Popen[bytes], proxy: BrokerProxy | None = None) -> None:
    """Cancel the test's job if it started, then stop the proxy and the broker. Each step runs even if
    the job already failed, so a failing test leaves no job, proxy or broker behind."""
    if client is not None:
        try:
            client.cancel().result()
        except Exception:  # noqa: BLE001 - already failed: the test's own assertion says why
            pass
    if proxy is not None:
        proxy.stop()
    _stop(proc)


def test_a_job_rides_out_a_broker_restart_and_carries_on(tmp_path) -> None:
    port = broker.free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = tmp_path / "broker.log"
    proc = _start(port, log)
    profile = make_test_profile(bootstrap, "outage.", "avro")
    t0 = int(time.time() * 1000) - 60_000
    before = interactions(300, t0, seed=1)
    after = [{**r, "event_id": "after-" + r["event_id"]} for r in interactions(900, t0 + 30_000, seed=2)]
    client = None
    try:
        sent = produce_records(bootstrap, profile, "interaction", before, [r["event_time"] for r in before])
        position = {p: 1 + max(s.offset for s in sent if s.partition == p) for p in {s.partition for s in sent}}
        pipeline = build([load_spec("passthrough")], profile, RunOptions(checkpoint_interval="2 s"),
                         job_name="test-outage")
        client = pipeline.execute().get_job_client()
        assert len(read_all(bootstrap, profile, "cx.bench.passthrough", expect=300, timeout_s=90)) == 300
        time.sleep(3)  # a checkpoint covers the first records

        _stop(proc)
        time.sleep(20)  # the job's clients retry; nothing to write meanwhile, so nothing fails
        status = str(client.get_job_status().result())
        assert status in ("JobStatus.RUNNING", "JobStatus.RESTARTING"), status

        proc = _start(port, log)  # an empty broker: topics and records are gone
        profile = make_test_profile(bootstrap, "outage.", "avro")
        sent = produce_records(bootstrap, profile, "interaction", after, [r["event_time"] for r in after])
        beyond = {s.record["event_id"] for s in sent if s.offset >= position.get(s.partition, 0)}
        skipped = len(after) - len(beyond)
        assert beyond and skipped > 0
        out = read_all(bootstrap, profile, "cx.bench.passthrough", expect=len(beyond), timeout_s=120)
        assert sorted(m.record["event_id"] for m in out) == sorted(beyond)
        assert str(client.get_job_status().result()) == "JobStatus.RUNNING"
        print(f"after the restart: {len(beyond)} read, {skipped} skipped (offsets below the job's positions)")
    finally:
        _tear_down(client, proc)


# -- a slow or unreachable broker: the job's traffic goes through tests/broker_proxy.py -------------------
def _proxied(tmp_path: Path) -> tuple[object, BrokerProxy]:
    """A broker that advertises a proxy in front of it: every client connection goes through the proxy."""
    broker_port, proxy_port = broker.free_port(), broker.free_port()
    log = tmp_path / "broker.log"
    proc = broker.spawn(broker_port, log, advertised_port=proxy_port)
    proxy = BrokerProxy(("127.0.0.1", broker_port), port=proxy_port).start()
    broker.wait_until_answering(proc, proxy.address, log)
    return proc, proxy


def _ids(messages) -> list[str]:
    return sorted(m.record["event_id"] for m in messages)


def test_a_slow_broker_slows_the_job_but_loses_and_repeats_nothing(tmp_path) -> None:
    """+100 ms on every byte each way (200 ms per request round trip): output complete and correct."""
    proc, proxy = _proxied(tmp_path)
    client = None
    sizes = flink_log.mark()
    try:
        profile = make_test_profile(proxy.address, "slow.", "avro")
        proxy.set_delay(0.1)
        t0 = int(time.time() * 1000) - 120_000
        first = interactions(300, t0, seed=3)
        # The second batch follows the first in event time (a batch that overlapped it would be late
        # once the first is through, and go to cx.dlq by the lateness policy, broker or no broker).
        t1 = max(r["event_time"] for r in first) + 10_000
        second = [{**r, "event_id": "next-" + r["event_id"]} for r in interactions(300, t1, seed=4)]
        produce_records(proxy.address, profile, "interaction", first, [r["event_time"] for r in first])
        pipeline = build([load_spec("passthrough")], profile, RunOptions(checkpoint_interval="2 s"),
                         job_name="test-slow-broker")
        client = pipeline.execute().get_job_client()
        produce_records(proxy.address, profile, "interaction", second, [r["event_time"] for r in second])
        started = time.monotonic()
        out = read_all(proxy.address, profile, "cx.bench.passthrough", expect=600, timeout_s=240)
        print(f"slow broker: 600 records out {time.monotonic() - started:.1f} s after the last was produced")
        assert _ids(out) == sorted(r["event_id"] for r in first + second)  # none lost, none repeated
        assert read_settled(proxy.address, profile, "cx.dlq") == []  # and none refused as late
        assert str(client.get_job_status().result()) == "JobStatus.RUNNING"
        assert "switched from state RUNNING to RESTARTING" not in flink_log.since(sizes)
    finally:
        _tear_down(client, proc, proxy)


def test_a_bounded_run_behind_a_slow_broker_reads_up_to_the_true_end(tmp_path) -> None:
    """A bounded job reads every record that was on its topics when it started, however slowly the
    broker answers. The local broker lists a partition's end (ListOffsets) as the base offset of
    its last batch, not the offset after it, so where a bounded read stops has to come from a fetch
    response. With +300 ms each way, a fetch takes longer than a poll the connector used to take
    as proof that nothing followed (500 ms): the last batch of each partition was left out. On a
    loaded 2-core machine the same happened to the alerts job's cx.drift and cx.sentiment reads."""
    proc, proxy = _proxied(tmp_path)
    try:
        profile = make_test_profile(proxy.address, "bounded.", "avro")
        records = interactions(600, int(time.time() * 1000) - 120_000, seed=5)
        produce_records(proxy.address, profile, "interaction", records, [r["event_time"] for r in records])
        proxy.set_delay(0.3)
        started = time.monotonic()
        run_bounded("passthrough", profile)
        print(f"bounded run behind a slow broker: {time.monotonic() - started:.1f} s")
        proxy.set_delay(0)
        out = read_all(proxy.address, profile, "cx.bench.passthrough", expect=len(records), timeout_s=30)
        assert _ids(out) == sorted(r["event_id"] for r in records)
    finally:
        _tear_down(None, proc, proxy)


def test_unreachable_longer_than_the_delivery_timeout_restarts_from_the_checkpoint_and_loses_nothing(
        tmp_path, monkeypatch) -> None:
    """The proxy cuts every connection while the job is writing; the sink gives up after its delivery
    timeout (8 s here, 30 s by default), Flink restarts the job from its last checkpoint, and once the
    broker is reachable again every record arrives (some twice: at-least-once, idempotent per key)."""
    monkeypatch.setenv("CXSTREAM_KAFKA_DELIVERY_TIMEOUT_MS", "8000")  # Java clients only: properties.*
    monkeypatch.setenv("CXSTREAM_KAFKA_REQUEST_TIMEOUT_MS", "4000")
    # Small fetches (~100 records) plus the proxy's delay pace the job at roughly 1,000 records/s, so it
    # is still writing when the broker goes away (checked below, not assumed).
    monkeypatch.setenv("CXSTREAM_KAFKA_MAX_PARTITION_FETCH_BYTES", "16384")
    proc, proxy = _proxied(tmp_path)
    client = None
    sizes = flink_log.mark()
    try:
        # One partition, so that "lost" cannot be confused with event time across partitions (a
        # partition read later than another after the restart can be declared idle: README, Known limits).
        profile = make_test_profile(proxy.address, "down.", "avro", partitions=1)
        total = 30_000
        t0 = int(time.time() * 1000) - total * 150 - 600_000
        records = interactions(total, t0, seed=6)
        produce_records(proxy.address, profile, "interaction", records, [r["event_time"] for r in records])
        proxy.set_delay(0.05)
        pipeline = build([load_spec("passthrough")], profile, RunOptions(checkpoint_interval="2 s"),
                         job_name="test-unreachable-broker")
        client = pipeline.execute().get_job_client()
        job_id = str(client.get_job_id())
        from cxstream.consume import TopicReader

        # Go down once the job is writing and a checkpoint has completed, while most of the backlog
        # is still to be written: conditions, not sleeps.
        with TopicReader(proxy.address, [profile.topic("cx.bench.passthrough")], topic_prefix="down.") as reader:
            seen = reader.read_until(
                lambda got: len(got) >= 1 and f"Completed checkpoint 1 for job {job_id}" in flink_log.since(sizes),
                300)
        assert seen and len({m.record["event_id"] for m in seen}) < total
        proxy.go_down()
        down_at = time.strftime("%H:%M:%S")
        outage_s = 20  # well past the 8 s delivery timeout
        time.sleep(outage_s)
        status_during = str(client.get_job_status().result())
        proxy.set_delay(0)
        proxy.come_up()
        up_at = time.strftime("%H:%M:%S")
        # Wait for every distinct record: counting messages would stop early, replays count twice.
        with TopicReader(proxy.address, [profile.topic("cx.bench.passthrough")], topic_prefix="down.") as reader:
            out = reader.read_until(lambda got: len({m.record["event_id"] for m in got}) >= len(records), 600)
        ids = [m.record["event_id"] for m in out]
        assert set(ids) == {r["event_id"] for r in records}  # nothing lost
        log = flink_log.since(sizes)
        restarts = log.count("switched from state RUNNING to RESTARTING")
        assert restarts >= 1, "the sink should have given up and the job restarted"
        assert "ms has passed since batch creation" in log  # why: the sink's delivery timeout
        assert "from Checkpoint" in log  # and the restart resumed from the last checkpoint
        timeline = [line[11:23] + " " + line.split("switched from state ")[1].strip()
                    for line in log.splitlines() if "test-unreachable-broker" in line and "switched from state" in line]
        print(f"proxy down at {down_at}, up at {up_at}; job: {'; '.join(timeline)}")
        assert str(client.get_job_status().result()) == "JobStatus.RUNNING"
        print(f"unreachable {outage_s} s: status during the outage {status_during}; {restarts} restart(s); "
              f"{len(ids)} records out for {len(records)} in ({len(ids) - len(set(ids))} written twice)")
    finally:
        _tear_down(client, proc, proxy)


@pytest.mark.parametrize("command", [
    ["topics"], ["tail", "cx.signals"], ["simulate", "--count", "10"], ["job", "passthrough"],
    ["run", "--duration", "5"], ["reference", "build", "--from-topic", "cx.events.interactions", "--out", "x.json"],
])
def test_unreachable_at_start_every_command_says_so_in_one_line(command, tmp_path) -> None:
    port = broker.free_port()  # nothing listens there
    args = [*command[:1], *command[1:]]
    if command[0] in ("job", "reference"):
        args += ["--bootstrap-servers", f"127.0.0.1:{port}"]
    else:
        args.insert(1, f"--bootstrap-servers=127.0.0.1:{port}")
    env = subprocess_env(CXSTREAM_HOME=str(tmp_path))
    env.pop(broker.ENV_BOOTSTRAP, None)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "cxstream.cli", *args], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith(f"cxstream: error: no Kafka broker answers at 127.0.0.1:{port}: "), out.stderr
    assert "Traceback" not in out.stderr and len(lines) <= 2, out.stderr
    print(f"{' '.join(command)}: exit {out.returncode} after {took:.1f} s: {lines[0]}")
