"""What a running job does when its broker goes away and comes back (README, "When the broker fails").

The job's Kafka clients retry while the broker is away and the job keeps running. The local broker
keeps nothing across a restart (memory storage), so it comes back empty: the topics have to be
created again, and offsets start again at 0, below the positions the job had reached. The job
carries on from those positions: records written at offsets below them are skipped. The test
measures exactly that, so the README can say it: with the local broker, restart the suite after
restarting the broker; on a durable cluster, offsets survive and nothing is skipped.
"""

from __future__ import annotations

import time

import pytest

from cxstream import broker
from cxstream.runtime import RunOptions, build, load_spec
from cxstream.sample_data import interactions
from tests.conftest import make_test_profile
from tests.kafka_io import produce_records, read_all

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
        if client is not None:
            try:
                client.cancel().result()
            except Exception:  # noqa: BLE001 - already failed: the assertion above says why
                pass
        _stop(proc)
