"""The jobs on a real standalone Flink cluster, driven the way a Flink user drives one.

One cluster (JobManager + TaskManager processes from the wheel's distribution, 1 TaskManager with 2
slots) serves the module. Jobs go in with `flink run -py` (cxstream.submit), savepoints are taken
with the REST API's stop-with-savepoint, and the failure is a real `kill -9` of the TaskManager
process. Results are compared with a pandas computation over the same events (tests/oracles.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from cxstream import cluster, contracts, sample_data, submit
from cxstream.cluster import ClusterState
from cxstream.consume import Message, TopicReader
from cxstream.profiles import Profile
from cxstream.runtime import load_spec, suite_job_names
from cxstream.simulator import SimulatorConfig, run
from tests import oracles
from tests.conftest import make_test_profile
from tests.kafka_io import produce_records

pytestmark = pytest.mark.slow

MINUTE_MS = 60_000
SIGNAL_KEY = ["customer_id", "window_kind", "window_start", "window_end"]


def _timing(what: str, seconds: float) -> None:
    print(f"\n[timing] {what}: {seconds:.1f} s", flush=True)


@pytest.fixture(scope="module")
def flink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    """A standalone cluster of its own (its config, logs and checkpoints in a temporary directory)."""
    previous = os.environ.get("CXSTREAM_CLUSTER_HOME")
    os.environ["CXSTREAM_CLUSTER_HOME"] = str(tmp_path_factory.mktemp("flink-cluster"))
    try:
        started = time.monotonic()
        state, new = cluster.start(timeout_s=600)
        assert new
        _timing("cluster start (JobManager + TaskManager, REST answering, slots registered)",
                time.monotonic() - started)
        assert cluster.start()[0] == state, "a second start must find the running cluster"
        yield state
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("CXSTREAM_CLUSTER_HOME", None)
        else:
            os.environ["CXSTREAM_CLUSTER_HOME"] = previous


def _submit(flink: ClusterState, job: str, bootstrap: str, profile: Profile, **kw: object) -> str:
    started = time.monotonic()
    job_id = submit.submit(submit.Submission(job, flink.address, bootstrap_servers=bootstrap,
                                             topic_prefix=profile.topic_prefix, **kw))  # type: ignore[arg-type]
    submit.wait_until_running(flink.address, job_id, timeout_s=600)
    _timing(f"submit {job} until all its tasks run", time.monotonic() - started)
    return job_id


def _sink_topics(job: str) -> list[str]:
    """The topics a job writes results to (its dead letters aside)."""
    spec = load_spec(job)
    dlq = contracts.load("dlq_record").topic
    topics = [contracts.load(name).topic for name in spec.outputs] + [topic for _, _, topic in spec.copy_sinks]
    return [t for t in topics if t != dlq]


def _all_jobs() -> list[str]:
    """Every job in jobs/: the suite's in pipeline order first (later jobs may read their outputs)."""
    suite = suite_job_names()
    return suite + [name for name in submit.job_names() if name not in suite]


@pytest.mark.timeout(2400)  # a submission takes 30 s alone, minutes on a busy 2-core machine
def test_every_job_in_jobs_runs_on_the_cluster_and_writes_its_sink_topics(bootstrap: str, prefix: str,
                                                                          flink: ClusterState) -> None:
    profile = make_test_profile(bootstrap, prefix)
    start = (int(time.time() * 1000) // MINUTE_MS - 120) * MINUTE_MS
    duration_s = 8 * 60
    run(SimulatorConfig(seed=5, clock="simulated", start_ms=start, rate=0, event_rate=30, duration_s=duration_s,
                        customers=60, topic_prefix=prefix, bad_share=0.01), bootstrap, progress=False)
    # Then a few sparse minutes (6 interactions each): under the quality suite's 30-row minimum, so
    # the quality job has failures to report, and they move event time on so earlier windows close.
    sparse = sample_data.interactions(30, start + (duration_s + 60) * 1000, step_ms=10_000, seed=3)
    produce_records(bootstrap, profile, "interaction", sparse, [r["event_time"] for r in sparse])

    jobs = _all_jobs()
    assert {"signals", "sentiment", "drift", "quality"} <= set(jobs)
    for i in range(0, len(jobs), flink.slots):  # one slot per job: as many at once as the cluster has slots
        batch = jobs[i:i + flink.slots]
        with ThreadPoolExecutor(len(batch)) as pool:
            ids = dict(zip(batch, pool.map(lambda j: _submit(flink, j, bootstrap, profile), batch), strict=True))
        try:
            for job in batch:
                topics = [profile.topic(t) for t in _sink_topics(job)]
                # Every topic of a job with one sink; for a job with several, at least one: the
                # decisions job's cx.nba.feedback needs outcomes of its own triggers, which the
                # simulator's outcomes (made-up trigger ids) never are (tests/test_decisions_e2e.py
                # checks the feedback).
                need = len(topics) if len(topics) == 1 else 1
                with TopicReader(bootstrap, topics, value_format=profile.value_format,
                                 topic_prefix=prefix) as reader:
                    got = reader.read_until(lambda msgs, need=need: len({m.topic for m in msgs}) >= need, 600)
                seen = Counter(m.topic for m in got)
                assert sum(seen[t] > 0 for t in topics) >= need, (job, dict(seen), topics)
                assert all(m.record is not None for m in got), f"{job} wrote records its contract cannot decode"
                state = cluster.rest(flink, f"/jobs/{ids[job]}")["state"]
                assert state == "RUNNING", (job, state, submit.root_exception(flink.address, ids[job]))
        finally:
            for job_id in ids.values():
                submit.cancel(flink.address, job_id)
            for job_id in ids.values():
                submit.wait_for_state(flink.address, job_id, ("CANCELED",), timeout_s=120, fail_on=())


class Stream:
    """Interactions of 40 customers, 10 per second of event time, produced in slices on demand.

    Kafka timestamps equal event times, and each customer's events go to one partition in order, so
    no record is late in a run that reads the topic once (the test checks the DLQ for that).
    """

    def __init__(self, bootstrap: str, profile: Profile, minutes: int) -> None:
        self.bootstrap, self.profile = bootstrap, profile
        start = (int(time.time() * 1000) // MINUTE_MS - 3 * 24 * 60) * MINUTE_MS  # three days ago
        self.events = sample_data.interactions(minutes * 600, start, step_ms=100, seed=21, customers=40)
        self.sent = 0

    def send(self, n: int) -> None:
        batch = self.events[self.sent:self.sent + n]
        produce_records(self.bootstrap, self.profile, "interaction", batch, [r["event_time"] for r in batch])
        self.sent += len(batch)

    def send_steadily(self, n: int, per_second: float, stop: threading.Event) -> None:
        step = max(1, int(per_second / 4))
        end = min(len(self.events), self.sent + n)
        while self.sent < end and not stop.is_set():
            self.send(min(step, end - self.sent))
            time.sleep(0.25)

    def flush(self) -> None:
        """Records two days after the last event on every partition: every window of the stream closes.

        Their own customers (`flush-*`) are new, so they add no row to any window that closes.
        """
        at = self.events[-1]["event_time"] + 2 * 24 * 60 * MINUTE_MS
        late = [{**self.events[0], "event_id": f"flush-{i}", "customer_id": f"flush-{i}", "event_time": at}
                for i in range(30)]  # 30 keys cover the 3 partitions
        produce_records(self.bootstrap, self.profile, "interaction", late, [at] * len(late))


def _read_signals(bootstrap: str, profile: Profile, expect_keys: int, timeout_s: float) -> list[Message]:
    """cx.signals from the beginning until `expect_keys` distinct keys arrived, then until it is quiet."""
    with TopicReader(bootstrap, [profile.topic("cx.signals")], value_format=profile.value_format,
                     topic_prefix=profile.topic_prefix) as reader:
        got = reader.read_until(
            lambda msgs: len({tuple(m.record[k] for k in SIGNAL_KEY) for m in msgs if m.record}) >= expect_keys,
            timeout_s)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 5:
            more = reader.poll(200)
            if more:
                got += more
                quiet_since = time.monotonic()
        return got


def _wait_for_new_checkpoint(flink: ClusterState, job_id: str, timeout_s: float = 300) -> None:
    before = submit.completed_checkpoints(flink.address, job_id)
    deadline = time.monotonic() + timeout_s
    while submit.completed_checkpoints(flink.address, job_id) <= before:
        assert time.monotonic() < deadline, f"no checkpoint of {job_id} completed within {timeout_s} s"
        time.sleep(0.5)


@pytest.mark.timeout(1800)
def test_signals_survive_a_savepoint_rescale_and_a_killed_taskmanager_without_loss_or_duplicates(
        bootstrap: str, prefix: str, flink: ClusterState) -> None:
    """Stop with a savepoint, resume at another parallelism, kill -9 the TaskManager mid-stream, replace it.

    The sink is at-least-once with idempotent upsert keys (README "Delivery guarantees"): after the
    kill, the records since the last checkpoint are written again. So the check is: the latest value
    per key equals pandas over all events (nothing lost, nothing counted twice), and every key written
    more than once was written with the same value each time (a replay, not a second result).
    """
    profile = make_test_profile(bootstrap, prefix)
    stream = Stream(bootstrap, profile, minutes=6)

    # 1. Running at parallelism 1 over the first two minutes, with at least one checkpoint.
    stream.send(1200)
    job_id = _submit(flink, "signals", bootstrap, profile, parallelism=1)
    _wait_for_new_checkpoint(flink, job_id)

    # 2. Stop with a savepoint; more events arrive while no job runs.
    started = time.monotonic()
    savepoint = submit.stop_with_savepoint(flink.address, job_id)
    _timing("stop-with-savepoint (REST)", time.monotonic() - started)
    assert cluster.rest(flink, f"/jobs/{job_id}")["state"] == "FINISHED"
    stream.send(600)

    # 3. Resume from the savepoint at parallelism 2.
    job_id = _submit(flink, "signals", bootstrap, profile, parallelism=2, from_savepoint=savepoint)
    info = cluster.rest(flink, f"/jobs/{job_id}")
    assert {v["parallelism"] for v in info["vertices"]} == {2}
    restored = cluster.rest(flink, f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
    assert restored and restored["is_savepoint"] and restored["external_path"] == savepoint
    _wait_for_new_checkpoint(flink, job_id)

    # 4. A steady stream; in the middle of it the TaskManager dies (SIGKILL), and a new one starts.
    stop = threading.Event()
    producer = threading.Thread(target=stream.send_steadily, args=(len(stream.events) - stream.sent, 80.0, stop),
                                daemon=True)
    producer.start()
    try:
        time.sleep(4)
        _wait_for_new_checkpoint(flink, job_id)  # the job has a checkpoint taken during the stream
        time.sleep(2)
        victims = cluster.taskmanager_pids(flink)
        assert len(victims) == 1
        killed_at = time.monotonic()
        os.kill(victims[0], signal.SIGKILL)
        cluster.start_taskmanager(flink)
        _wait_for_restored_checkpoint(flink, job_id)
        submit.wait_until_running(flink.address, job_id, timeout_s=600)
        _timing("recovery after kill -9 (until every task runs again on the new TaskManager)",
                time.monotonic() - killed_at)
        assert cluster.taskmanager_pids(flink) and victims[0] not in cluster.taskmanager_pids(flink)
    finally:
        producer.join(300)
        stop.set()
    assert stream.sent == len(stream.events)
    stream.flush()

    # 5. The sink, latest value per key, against pandas over every event.
    expected = oracles.signals(stream.events)
    messages = [m for m in _read_signals(bootstrap, profile, len(expected), timeout_s=600)
                if not m.record["customer_id"].startswith("flush-")]
    submit.cancel(flink.address, job_id)
    latest: dict[tuple, dict] = {}
    writes: dict[tuple, list[dict]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        key = tuple(m.record[k] for k in SIGNAL_KEY)
        latest[key] = m.record
        writes.setdefault(key, []).append(m.record)
    replayed = {k: v for k, v in writes.items() if len(v) > 1}
    assert all(all(r == v[0] for r in v) for v in replayed.values()), "a key was written with two different values"
    print(f"\n[delivery] {len(messages)} signal records for {len(latest)} keys; "
          f"{len(replayed)} keys written more than once (replayed after the kill, same values)")

    with TopicReader(bootstrap, [profile.topic("cx.dlq")], topic_prefix=prefix) as reader:
        dead = reader.read_until(lambda msgs: False, 3)
    assert not dead, [m.record for m in dead[:3]]

    got = pd.DataFrame(list(latest.values()))
    merged = expected.merge(got, on=SIGNAL_KEY, how="outer", suffixes=("_want", "_got"), indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    extra = merged[merged["_merge"] == "right_only"]
    assert missing.empty and extra.empty, (len(missing), missing[SIGNAL_KEY].head(),
                                           len(extra), extra[SIGNAL_KEY].head())
    for column in expected.columns:
        if column in SIGNAL_KEY or f"{column}_want" not in merged:
            continue
        want, have = merged[f"{column}_want"], merged[f"{column}_got"]
        assert (want.isna() == have.isna()).all(), column
        both = want.notna()
        if pd.api.types.is_numeric_dtype(want) or column in ("mean_dwell_ms", "conversion_rate"):
            diff = (want[both].astype(float) - have[both].astype(float)).abs()
            assert (diff < 1e-6).all(), (column, merged.loc[both][diff >= 1e-6][SIGNAL_KEY].head())
        else:
            assert (want[both] == have[both]).all(), column


def _wait_for_restored_checkpoint(flink: ClusterState, job_id: str, timeout_s: float = 600) -> None:
    """Until the job has restored from a checkpoint (not the savepoint it was started from)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        restored = cluster.rest(flink, f"/jobs/{job_id}/checkpoints")["latest"].get("restored") or {}
        if restored and not restored.get("is_savepoint"):
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not restore from a checkpoint within {timeout_s} s")
