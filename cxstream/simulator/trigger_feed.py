"""The decisions job's real triggers, read in the background for the simulator to answer (outcomes.py).

Why a thread and a buffer: the producing loop paces sends with a token bucket and must never wait on
a Kafka read. The thread polls `cx.nba.triggers` (assign + seek to the end, as every Python reader of
the suite does: cxstream/consume.py) and appends each new trigger to a bounded buffer; the engine
takes whatever is there between two sends (`drain`, no waiting). When the engine falls behind, the
buffer stops at `capacity` and further triggers are counted as dropped, not queued without limit.

The topic is an upsert log written at least once, so one trigger can appear twice (a job restarted
from its last checkpoint writes the records since then again); each trigger id is handed out once
(the last `remember` ids are kept to tell). A missing topic or an unreachable broker is retried
every few seconds: the simulator may start before the decisions job or the topics exist.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

RETRY_S = 5.0


@dataclass
class FeedStats:
    read: int = 0  # triggers read from the topic (first sightings of a trigger id)
    repeated: int = 0  # records of a trigger id already handed out (at-least-once rewrites)
    dropped: int = 0  # triggers not buffered because the buffer was full
    undecodable: int = 0
    last_error: str | None = None


class TriggerFeed:
    """Reads cx.nba.triggers (with the run's prefix and value format) into a bounded buffer."""

    def __init__(self, bootstrap_servers: str, topic_prefix: str = "", value_format: str = "avro",
                 capacity: int = 10_000, remember: int = 100_000, quiet: bool = False) -> None:
        from cxstream import contracts

        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix
        self.topic = topic_prefix + contracts.load("nba_trigger").topic
        self.value_format = value_format
        self.capacity = capacity
        self.remember = remember
        self.quiet = quiet
        self.stats = FeedStats()
        self._buffer: deque[dict[str, Any]] = deque()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._stop = threading.Event()
        self._ready = threading.Event()  # set once the reader is positioned at the topic's end
        self._thread = threading.Thread(target=self._run, name="cxstream-trigger-feed", daemon=True)

    def start(self) -> TriggerFeed:
        self._thread.start()
        return self

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the reader is positioned (triggers written from then on will be read)."""
        return self._ready.wait(timeout_s)

    def drain(self, limit: int = 1_000) -> list[dict[str, Any]]:
        """Up to `limit` buffered triggers, oldest first; never waits."""
        buf = self._buffer
        out: list[dict[str, Any]] = []
        while buf and len(out) < limit:
            out.append(buf.popleft())
        return out

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    # --- the reader thread -------------------------------------------------------------------------

    def _offer(self, record: dict[str, Any]) -> None:
        trigger_id = record.get("trigger_id")
        if not trigger_id or not record.get("customer_id"):
            return
        if trigger_id in self._seen:
            self.stats.repeated += 1
            return
        self._seen[trigger_id] = None
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        self.stats.read += 1
        if len(self._buffer) >= self.capacity:
            self.stats.dropped += 1
            return
        self._buffer.append(record)

    def _say_once(self, message: str) -> None:
        if self.stats.last_error != message and not self.quiet:
            print(f"cxstream simulate: {message}; retrying every {RETRY_S:.0f} s", file=sys.stderr, flush=True)
        self.stats.last_error = message

    def _run(self) -> None:
        from cxstream.consume import TopicReader

        while not self._stop.is_set():
            try:
                with TopicReader(self.bootstrap_servers, [self.topic], from_beginning=False,
                                 value_format=self.value_format, topic_prefix=self.topic_prefix) as reader:
                    self._ready.set()
                    while not self._stop.is_set():
                        for msg in reader.poll(timeout_ms=200):
                            if msg.record is None:
                                self.stats.undecodable += msg.value is not None
                                continue
                            self._offer(msg.record)
            except Exception as exc:  # noqa: BLE001 - reported once, then retried: the topic may come later
                from cxstream.kafka_clients import redact_secrets

                self._say_once(redact_secrets(f"cannot read {self.topic} to answer triggers with outcomes "
                                              f"({type(exc).__name__}: {str(exc)[:200]})"))
                self._stop.wait(RETRY_S)
