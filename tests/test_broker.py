"""`cxstream broker start|stop|status` and `--bootstrap-servers`, against the real Tansu binary."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from cxstream import broker, jobmain
from cxstream.paths import JOBS_DIR
from tests.broker_proxy import BrokerProxy
from tests.conftest import subprocess_env


def _cli(args: list[str], home, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(CXSTREAM_HOME=str(home), **(env_extra or {}))
    env.pop(broker.ENV_BOOTSTRAP, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "cxstream.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_start_status_stop_is_idempotent(tmp_path) -> None:
    assert _cli(["broker", "status"], tmp_path).returncode == 3
    started = _cli(["broker", "start"], tmp_path)
    assert started.returncode == 0, started.stderr
    assert "bootstrap 127.0.0.1:" in started.stdout
    again = _cli(["broker", "start"], tmp_path)  # a second start reuses the running broker
    assert again.stdout.split("bootstrap ")[1].split(",")[0] == started.stdout.split("bootstrap ")[1].split(",")[0]
    status = _cli(["broker", "status"], tmp_path)
    assert status.returncode == 0 and "answering" in status.stdout
    assert (tmp_path / "broker" / "broker.log").read_text().count("listening on") == 1
    stopped = _cli(["broker", "stop"], tmp_path)
    assert "broker stopped" in stopped.stdout
    assert _cli(["broker", "status"], tmp_path).returncode == 3
    assert "no local broker" in _cli(["broker", "stop"], tmp_path).stdout


def test_external_bootstrap_starts_no_broker_and_unreachable_is_one_clear_line(tmp_path, bootstrap) -> None:
    ok = _cli(["topics", "--topic-prefix", "ext."], tmp_path, {broker.ENV_BOOTSTRAP: bootstrap})
    assert ok.returncode == 0, ok.stderr
    assert not (tmp_path / "broker" / "state.json").exists()
    port = broker.free_port()
    bad = _cli(["topics", "--bootstrap-servers", f"127.0.0.1:{port}"], tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0].startswith(f"cxstream: error: no Kafka broker answers at 127.0.0.1:{port}: ")
    assert "Traceback" not in bad.stderr


def test_a_closed_port_is_reported_at_once_not_after_the_timeout() -> None:
    """Every address refusing the TCP connection is a certain "no broker": no need to wait for one."""
    port = broker.free_port()  # nothing listens there
    started = time.monotonic()
    reason = broker.why_not_answering(f"127.0.0.1:{port}", timeout_s=30)
    assert reason == "connection refused"
    assert time.monotonic() - started < 5  # kafka-python alone retries for the whole 30 s
    both = broker.why_not_answering(f"127.0.0.1:{port},no-such-host.invalid:9092", timeout_s=30)
    assert both is not None and both.startswith(f"127.0.0.1:{port} connection refused; "
                                                "no-such-host.invalid:9092 host not found"), both
    assert time.monotonic() - started < 5


def test_a_port_that_accepts_but_never_answers_still_gets_the_whole_timeout() -> None:
    """The fast path is only for refused connections: a listener that is slow to answer is waited for."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        reason = broker.why_not_answering(f"127.0.0.1:{silent.getsockname()[1]}", timeout_s=2)
        took = time.monotonic() - started
    assert reason is not None and "connection refused" not in reason, reason
    assert took >= 1.5, took


def test_with_a_grace_a_closed_port_that_starts_listening_is_waited_for(bootstrap: str, capsys) -> None:
    """A job pod may start before its Kafka service accepts connections: with wait_s (what the job
    entry point sets in a pod), a port that refuses for ~2 s and then reaches the broker is waited for."""
    host, port = bootstrap.rsplit(":", 1)
    proxy = BrokerProxy((host, int(port))).start()
    proxy.go_down()  # closed: connections are refused until the timer opens it
    opens = threading.Timer(2.0, proxy.come_up)
    opens.start()
    try:
        started = time.monotonic()
        assert broker.resolve_bootstrap(proxy.address, wait_s=30) == proxy.address
        took = time.monotonic() - started
    finally:
        opens.cancel()
        opens.join()
        proxy.stop()
    assert 1.5 <= took < 20, took
    err = capsys.readouterr().err
    assert f"cxstream: waiting for Kafka at {proxy.address} (connection refused), 30 s left" in err, err


def test_without_a_grace_a_closed_port_still_fails_at_once(capsys) -> None:
    """The grace is opt-in: a command a person typed with a wrong port keeps its one-line answer at once."""
    port = broker.free_port()
    started = time.monotonic()
    with pytest.raises(broker.BrokerError, match=f"no Kafka broker answers at 127.0.0.1:{port}: connection refused"):
        broker.resolve_bootstrap(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    assert "waiting for Kafka" not in capsys.readouterr().err


def test_a_job_waits_for_kafka_in_a_pod_and_not_elsewhere(tmp_path) -> None:
    """The path deploy/k8s uses (jobs/X.py through jobmain, --profile cluster --on-cluster): in a pod
    (KUBERNETES_SERVICE_HOST set) it waits for a refusing Kafka, here shortened by CXSTREAM_BROKER_WAIT_S,
    then says why in the same way; run by hand it fails at once."""
    port = broker.free_port()
    cmd = [sys.executable, str(JOBS_DIR / "signals.py"), "--profile", "cluster", "--on-cluster",
           "--bootstrap-servers", f"127.0.0.1:{port}"]

    def job(**env: str) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              env=subprocess_env(CXSTREAM_HOME=str(tmp_path), **env))
        return done, time.monotonic() - started

    by_hand, _ = job()
    assert by_hand.returncode != 0 and "waiting for Kafka" not in by_hand.stderr
    assert f"no Kafka broker answers at 127.0.0.1:{port}: connection refused" in by_hand.stderr
    in_pod, took = job(KUBERNETES_SERVICE_HOST="10.0.0.1", CXSTREAM_BROKER_WAIT_S="4")
    assert in_pod.returncode != 0
    assert f"cxstream: waiting for Kafka at 127.0.0.1:{port} (connection refused), 4 s left" in in_pod.stderr
    assert in_pod.stderr.count("cxstream: waiting for Kafka") >= 3  # retried: after 0.5 s, 1 s, 2 s
    assert f"no Kafka broker answers at 127.0.0.1:{port}: connection refused" in in_pod.stderr
    assert took >= 4, took
    for done in (by_hand, in_pod):  # one line that says why, not a traceback
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert done.stderr.splitlines()[-1].startswith("jobs/signals.py: error: no Kafka broker answers at")


def test_the_wait_is_60_s_in_a_pod_unless_set(monkeypatch) -> None:
    """60 s covers a Kafka service that starts with the job; a person's shell gets none, as before."""
    monkeypatch.delenv(jobmain.ENV_BROKER_WAIT, raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert jobmain.broker_wait_s() == 0
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert jobmain.broker_wait_s() == 60
    monkeypatch.setenv(jobmain.ENV_BROKER_WAIT, "0")
    assert jobmain.broker_wait_s() == 0


def test_local_broker_keeps_nothing_across_a_restart(tmp_path) -> None:
    """The README says the local broker is memory-only; this keeps that statement true."""
    from kafka import KafkaProducer

    from cxstream.topics import TopicSpec, ensure_topics

    log = tmp_path / "b.log"
    port = broker.free_port()
    servers = f"127.0.0.1:{port}"
    proc = broker.spawn(port, log)
    broker.wait_until_answering(proc, servers, log)
    ensure_topics(servers, [TopicSpec("kept", 1)])
    producer = KafkaProducer(bootstrap_servers=servers, acks="all")
    producer.send("kept", b"v").get(timeout=10)
    producer.close()
    proc.send_signal(2)
    proc.wait(10)
    proc = broker.spawn(port, log)
    try:
        broker.wait_until_answering(proc, servers, log)
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=servers)
        assert "kept" not in admin.list_topics()
        admin.close()
    finally:
        proc.send_signal(2)
        proc.wait(10)


def test_local_broker_shows_aborted_transactions_to_read_committed_readers(bootstrap: str, prefix: str) -> None:
    """Why the connector's sink refuses exactly-once on this broker (README, "Local broker limits").

    A transactional producer writes one aborted and one committed record; a read_committed reader
    should see only the committed one. If this starts failing, the broker got fixed and the
    exactly-once sink can be reconsidered.
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from cxstream.topics import TopicSpec, ensure_topics

    topic = f"{prefix}txn"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{prefix}probe")
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(topic, b"aborted")
    producer.flush()
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic, b"committed")
    producer.commit_transaction()
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    values = [r.value for r in consumer]
    consumer.close()
    assert b"committed" in values
    assert b"aborted" in values, "read_committed now hides aborted records: revisit the exactly-once sink"


def test_a_reader_reads_to_the_true_end_though_the_broker_reports_an_earlier_one(bootstrap: str) -> None:
    """The local broker answers ListOffsets(latest) with the last batch's base offset + 1, so "read
    up to the end offsets" can stop inside the last batch: here a poll (at most 50,000 records)
    ends at offset 50,000, past the reported end, with the last batch's 3 records still unread.
    TopicReader.read_to_end goes by the high watermark of fetch responses instead."""
    import uuid

    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from cxstream.consume import TopicReader
    from cxstream.topics import TopicSpec, ensure_topics

    topic = f"test-true-end-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20)
    for i in range(49_998):
        producer.send(topic, str(i).encode())
    producer.flush()
    for i in range(49_998, 50_003):  # one last batch of 5 records
        producer.send(topic, str(i).encode())
    producer.flush()
    producer.close()

    tp = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    reported = consumer.end_offsets([tp])[tp]
    consumer.close()
    assert reported == 49_999, "the broker's end offset quirk changed: revisit TopicReader.read_to_end"
    with TopicReader(bootstrap, [topic], value_format="json") as reader:
        got = reader.read_to_end(timeout_s=60)
    assert [int(m.value) for m in got] == list(range(50_003))


def test_the_live_view_counts_what_reaches_its_inputs_without_reading_them(bootstrap: str, monkeypatch) -> None:
    """`cxstream run` counts its input topics from end offsets (consume.ProducedCounter): records
    there before it started are not counted, each partition is. Batches of one record, so the local
    broker's end offset (the last batch's base offset + 1) is exact. The rate shown is the growth
    between the counts of about the last 5 s, over the time between them."""
    from cxstream import suite
    from cxstream.consume import ProducedCounter

    first, second = _counted_topics(bootstrap, ("a", 2), ("b", 1))
    with _OneRecordBatches(bootstrap) as send:
        send(first, 7)  # before the counter: not this run's
        with ProducedCounter(bootstrap, [first, second]) as counter:
            assert counter.counts(timeout_ms=10_000) == {first: 0, second: 0}
            send(first, 12)
            send(second, 5)
            assert counter.counts(timeout_ms=10_000) == {first: 12, second: 5}

    clock = [100.0]
    monkeypatch.setattr(suite.time, "monotonic", lambda: clock[0])
    view = suite.LiveView([first])
    for at, total in ((0, 0), (2, 12), (4, 24)):
        clock[0] = 100.0 + at
        view.count({first: total})
    assert view.rate(first) == 6.0 and view.totals[first] == 24
    clock[0] = 110.0
    view.count({first: 30})  # the counts of 0 and 2 s are older than 5 s and no longer needed
    assert view.rate(first) == 1.0
    assert any(first in ln and "30 records" in ln and "1.0/s" in ln for ln in view.render("RUNNING").splitlines())


def test_the_input_counts_outlast_a_broker_that_stops_answering(tmp_path) -> None:
    """A live view must not end on a blip: while the broker answers nothing, the last counts."""
    from cxstream.consume import ProducedCounter

    broker_port, proxy_port = broker.free_port(), broker.free_port()
    proc = broker.spawn(broker_port, tmp_path / "broker.log", advertised_port=proxy_port)
    proxy = BrokerProxy(("127.0.0.1", broker_port), port=proxy_port).start()
    try:
        broker.wait_until_answering(proc, proxy.address, tmp_path / "broker.log")
        (topic,) = _counted_topics(proxy.address, ("c", 1))
        with _OneRecordBatches(proxy.address) as send, ProducedCounter(proxy.address, [topic]) as counter:
            send(topic, 3)
            assert counter.counts(timeout_ms=10_000) == {topic: 3}
            proxy.go_down()
            started = time.monotonic()
            assert counter.counts(timeout_ms=1000) == {topic: 3}
            assert time.monotonic() - started < 5
            proxy.come_up()
            send(topic, 4)
            deadline = time.monotonic() + 30  # the client reconnects on its own
            while counter.counts(timeout_ms=1000) != {topic: 7}:
                assert time.monotonic() < deadline, counter.counts()
    finally:
        proxy.stop()
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def _counted_topics(bootstrap: str, *shapes: tuple[str, int]) -> list[str]:
    """Fresh topics, one per (name, partitions)."""
    import uuid

    from cxstream.topics import TopicSpec, ensure_topics

    names = [f"test-counted-{name}-{uuid.uuid4().hex[:8]}" for name, _ in shapes]
    ensure_topics(bootstrap, [TopicSpec(n, partitions) for n, (_, partitions) in zip(names, shapes, strict=True)])
    return names


class _OneRecordBatches:
    """send(topic, n): n records, each in a batch of its own, round-robin over the topic's partitions."""

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        self._sent = 0

    def __enter__(self):  # noqa: ANN204
        return self.send

    def __exit__(self, *exc: object) -> None:
        self._producer.close()

    def send(self, topic: str, n: int) -> None:
        partitions = sorted(self._producer.partitions_for(topic))
        for _ in range(n):
            self._producer.send(topic, b"x", partition=partitions[self._sent % len(partitions)])
            self._producer.flush()
            self._sent += 1
