"""Shared fixtures: one real Tansu broker per test session; every test isolates itself with its own
topic prefix. Flink jobs run on the embedded MiniCluster with the real connector jar."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxstream import broker
from cxstream.profiles import Profile, make_profile
from cxstream.topics import ensure_topics, suite_topics


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broker for the session: the external one if CXSTREAM_BOOTSTRAP_SERVERS is set."""
    external = os.environ.get(broker.ENV_BOOTSTRAP)
    if external:
        yield external
        return
    port = broker.free_port()
    log = Path(tmp_path_factory.mktemp("broker")) / "broker.log"
    proc = broker.spawn(port, log)
    servers = f"127.0.0.1:{port}"
    try:
        broker.wait_until_answering(proc, servers, log)
        yield servers
    finally:
        proc.send_signal(2)
        try:
            proc.wait(10)
        except Exception:
            proc.kill()


@pytest.fixture
def prefix() -> str:
    """A topic prefix unique to the test, so tests never see each other's records."""
    return f"t{uuid.uuid4().hex[:8]}."


def make_test_profile(bootstrap: str, prefix: str, value_format: str = "avro", partitions: int = 3) -> Profile:
    profile = make_profile("local", bootstrap, value_format, prefix).with_(partitions=partitions)
    ensure_topics(bootstrap, suite_topics(prefix, partitions))
    return profile


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a cxstream subprocess, without what an in-process Flink job left behind.

    PyFlink sets PYTHONPATH, FLINK_* and PYFLINK_* variables in the process that ran a job (here, the
    test process); a child that inherits PYFLINK_GATEWAY_DISABLED refuses to start its own gateway.
    """
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("PYFLINK", "_PYFLINK", "FLINK_", "_PYTHON_WORKER")) or k == "PYTHONPATH")}
    env.update(extra)
    return env
