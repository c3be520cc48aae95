"""Send the generated events to Kafka: paced, keyed, timestamped, and flushed whatever happens.

Delivery is counted from the broker's acknowledgements (acks='all'), not from send() calls, so the
final report says how many records are really on the topics, also after Ctrl-C.

When outcomes answer real triggers (the wall clock's default, outcomes.py), a TriggerFeed reads
cx.nba.triggers in a background thread for the run's lifetime; the sending loop never waits on it.
"""

from __future__ import annotations

import functools
import threading
import time

from cxstream.simulator.config import SimulatorConfig
from cxstream.simulator.engine import Engine
from cxstream.simulator.events import ProducedRecord, SimulationStats, TopicStats
from cxstream.simulator.progress import Progress
from cxstream.simulator.ratelimit import TokenBucket

_MAX_ERRORS_KEPT = 5
_REQUEST_OVERHEAD = 64 * 1024


def compression_available(kind: str | None) -> bool:
    if kind != "lz4":
        return True
    try:
        import lz4.frame  # noqa: F401
    except ImportError:
        return False
    return True


def make_producer(config: SimulatorConfig, bootstrap_servers: str):  # noqa: ANN201 - kafka-python is untyped
    from kafka import KafkaProducer

    from cxstream.kafka_clients import python_client_kwargs

    if not compression_available(config.compression):
        raise RuntimeError("lz4 compression needs the 'lz4' package (pip install lz4); "
                           "use --compression none or gzip")
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        linger_ms=config.linger_ms,
        compression_type=config.compression,
        # A huge hostile record must still fit in one request, or it would fail client-side and never
        # reach the topic it is meant to test.
        max_request_size=max(1 << 20, config.huge_bytes * 2 + _REQUEST_OVERHEAD),
        batch_size=64 * 1024,
        retries=5,
        client_id="cxstream-simulator",
        **python_client_kwargs(),
    )


def run(config: SimulatorConfig, bootstrap_servers: str, progress: bool = True,
        stop: threading.Event | None = None) -> SimulationStats:
    """Produce until --count / --duration (or forever), `stop` is set, or Ctrl-C; then flush and report.

    Setting `stop` (the CLI's signal handlers do) ends the run between two sends; a KeyboardInterrupt can
    land inside kafka-python's send(), so a record caught there may be on the topic without being counted.
    """
    stats = SimulationStats()
    from cxstream.contracts import INPUTS, load

    for name in INPUTS:  # up front: acknowledgements arrive on the sender thread at any time
        stats.topics.setdefault(config.topic_prefix + load(name).topic, TopicStats())
    producer = make_producer(config, bootstrap_servers)
    bucket = TokenBucket(config.rate) if config.rate > 0 else None
    reporter = Progress(stats) if progress else None
    started = time.monotonic()
    feed = None
    if config.outcome_mode == "triggers":
        from cxstream.simulator.trigger_feed import TriggerFeed

        feed = TriggerFeed(bootstrap_servers, config.topic_prefix, config.fmt, quiet=not progress).start()

    def acked(meta: object) -> None:
        stats.acked += 1
        stats.topics[meta.topic].acked += 1  # type: ignore[attr-defined]

    def acked_collect(produced: ProducedRecord, meta: object) -> None:
        produced.partition = meta.partition  # type: ignore[attr-defined]
        produced.offset = meta.offset  # type: ignore[attr-defined]
        acked(meta)

    def failed(topic: str, exc: BaseException) -> None:
        stats.failed += 1
        stats.topics[topic].failed += 1
        if len(stats.errors) < _MAX_ERRORS_KEPT:
            stats.errors.append(f"{topic}: {type(exc).__name__}: {exc}")

    engine = Engine(config, feed)
    events = engine.events()
    try:
        while stop is None or not stop.is_set():
            if bucket is not None:
                bucket.acquire()
            ev = next(events, None)
            if ev is None:
                break
            future = producer.send(ev.topic, value=ev.value, key=ev.key, timestamp_ms=ev.timestamp_ms)
            produced = stats.add(ev, collect=config.collect)  # callbacks added to a done future run at once
            if produced is not None:
                future.add_callback(functools.partial(acked_collect, produced))
            else:
                future.add_callback(acked)
            future.add_errback(functools.partial(failed, ev.topic))
            if reporter is not None:
                reporter.tick()
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        if stop is not None and stop.is_set():
            stats.interrupted = True
        try:
            producer.flush(timeout=60)
        except KeyboardInterrupt:  # a second Ctrl-C: give up waiting, report what we know
            stats.interrupted = True
        producer.close(timeout=5)
        if feed is not None:
            feed.close()
            f = feed.stats
            stats.notes.append(f"outcomes answering {feed.topic}: {engine.answered:,} sent for {f.read:,} "
                               f"triggers read ({engine.pending_answers:,} still waiting at the end, "
                               f"{f.dropped + engine.unanswered:,} dropped by the bounded buffers)")
        stats.elapsed_s = time.monotonic() - started
        if reporter is not None:
            reporter.close()
    return stats
