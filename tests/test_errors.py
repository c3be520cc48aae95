"""Errors a user can act on: each is one clear line on stderr and a non-zero exit, not a stack wall."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from cxstream.broker import free_port
from cxstream.errors import describe
from cxstream.paths import REPO_ROOT
from tests.conftest import subprocess_env


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cxstream.cli", *args], capture_output=True, text=True,
                          env=subprocess_env(**env), cwd=REPO_ROOT, timeout=300)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done
    lines = done.stderr.strip().splitlines()
    assert not any(ln.startswith(("Traceback", "\tat ", "Caused by", "py4j")) for ln in lines), done.stderr
    assert lines[-1] == "(run with --verbose for the full trace)", done.stderr
    assert len(lines) == 2, done.stderr
    return lines[0]


def test_missing_java_is_one_line(tmp_path: Path, bootstrap: str) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT 1;\n")
    env = subprocess_env(PATH=str(tmp_path), CXSTREAM_BOOTSTRAP_SERVERS=bootstrap)
    env.pop("JAVA_HOME", None)
    done = subprocess.run([sys.executable, "-m", "cxstream.cli", "sql", str(sql)], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=300)
    line = _one_line_error(done)
    assert line.startswith("cxstream: error: Flink needs Java and none was found (no java on PATH)"), line
    assert "openjdk-17" in line


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = _cli("broker", "start", "--port", str(port), CXSTREAM_HOME=str(tmp_path))
    assert _one_line_error(done) == f"cxstream: error: port {port} on 127.0.0.1 is busy; pick another with --port"


def test_an_unreachable_broker_is_one_line_for_sql(tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("SELECT 1;\n")
    port = free_port()  # nothing listens there
    done = _cli("sql", str(sql), "--bootstrap-servers", f"127.0.0.1:{port}")
    # the probe adds why it could not connect (here ": connection refused", said at once)
    assert _one_line_error(done).startswith(f"cxstream: error: no Kafka broker answers at 127.0.0.1:{port}")


def test_describe_keeps_the_reason_after_a_colon_and_names_a_missing_java() -> None:
    assert describe(RuntimeError("connector build failed:\nFoo.java:3: error: ';' expected\n1 error")) == (
        "connector build failed: Foo.java:3: error: ';' expected")
    assert "Java 17" in describe(RuntimeError("Java gateway process exited before sending its port number"))


def test_describe_names_the_exception_of_a_binary_message() -> None:
    """A BadStatusLine from a gRPC port was once printed as "cxstream: error: ��"."""
    import http.client

    said = describe(http.client.BadStatusLine("\x00\x00\x1e\x04\x00\x7f\xff"))
    assert said == "BadStatusLine: '\\x00\\x00\\x1e\\x04\\x00\\x7fÿ'"
    # A Java cause that holds a raw byte is still the cause, not the Py4J preamble.
    java = RuntimeError("An error occurred while calling o1.run.\n: java.lang.RuntimeException: x\n"
                        "Caused by: org.apache.avro.AvroRuntimeException: Malformed data \x01 here")
    assert describe(java) == "RuntimeError: 'org.apache.avro.AvroRuntimeException: Malformed data \\x01 here'"
