"""`cxstream cluster` / `submit` / `jobs`: what can be checked without starting Flink.

The refusals a user meets first (a busy port, no Java, no cluster) are one clear line and a non-zero
exit; the generated configuration turns on what the failure tests rely on; the `flink run` command
ships what a remote cluster needs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cxstream import cluster, submit
from tests.conftest import subprocess_env


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cxstream.cli", *args], capture_output=True, text=True,
                          env=subprocess_env(**env), timeout=120)


def test_a_busy_port_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = _cli("cluster", "start", "--port", str(port), CXSTREAM_CLUSTER_HOME=str(tmp_path))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first == f"cxstream: error: port {port} on 127.0.0.1 is busy: choose another with --port, or omit it"
    assert "Traceback" not in result.stderr and not (tmp_path / "pid").exists()


def test_a_missing_java_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _cli("cluster", "start", CXSTREAM_CLUSTER_HOME=str(tmp_path), PATH=str(tmp_path), JAVA_HOME="")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("cxstream: error: java not found: Flink needs a Java 17")


def test_jobs_and_status_without_a_cluster_say_so(tmp_path: Path) -> None:
    status = _cli("cluster", "status", CXSTREAM_CLUSTER_HOME=str(tmp_path))
    assert status.returncode == 3 and status.stdout.strip() == "no cxstream Flink cluster is running"
    jobs = _cli("jobs", "list", CXSTREAM_CLUSTER_HOME=str(tmp_path))
    assert jobs.returncode == 1
    assert jobs.stderr.splitlines()[0] == ("cxstream: error: no cxstream Flink cluster is running: "
                                           "start one with `cxstream cluster start`")


def test_generated_config_binds_loopback_and_turns_on_checkpointing(tmp_path: Path) -> None:
    # Another interpreter than this one: the config must name it, and its own site-packages.
    other_python = tmp_path / "venv" / "bin" / "python"
    other_python.parent.mkdir(parents=True)
    other_python.write_text("#!/bin/sh\necho /venv/lib/python3.11/site-packages\n")
    other_python.chmod(0o755)
    conf = cluster.cluster_config(18081, 16123, tmp_path, slots=2, python=str(other_python))
    cluster.write_conf(tmp_path / "conf", conf)
    parsed = yaml.safe_load((tmp_path / "conf" / "config.yaml").read_text())
    assert parsed["rest.port"] == 18081 and parsed["jobmanager.rpc.port"] == 16123
    for key in ("jobmanager.bind-host", "taskmanager.bind-host", "rest.bind-address", "rest.address"):
        assert parsed[key] == "localhost"
    assert parsed["state.backend.type"] == "hashmap"
    assert parsed["execution.checkpointing.interval"] and parsed["restart-strategy.type"] == "fixed-delay"
    assert parsed["execution.checkpointing.dir"] == (tmp_path / "checkpoints").as_uri()
    assert parsed["python.executable"] == str(other_python)
    assert parsed["python.pythonpath"] == "/venv/lib/python3.11/site-packages"
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in parsed["env.java.opts.all"]
    assert parsed["env.java.opts.client"] == "-XX:TieredStopAtLevel=1"  # the short-lived `flink run` JVM only
    assert (tmp_path / "conf" / "log4j.properties").exists()


def test_flink_run_ships_python_files_jars_and_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXSTREAM_CLUSTER_HOME", str(tmp_path))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("vaderSentiment==3.3.2\n")
    connector = tmp_path / "flink-sql-connector-kafka.jar"
    connector.write_bytes(b"")
    sub = submit.Submission("sentiment", "flink.example:8081", parallelism=3, from_savepoint="s3://b/sp-1",
                            bootstrap_servers="kafka:9092", profile="cluster", requirements=str(requirements),
                            python_executable="/opt/venv/bin/python", jars=(str(connector),))
    cmd = sub.command()
    flink_opts, job_args = cmd[:cmd.index("--profile")], cmd[cmd.index("--profile"):]
    assert flink_opts[2:6] == ["run", "-m", "flink.example:8081", "-d"]
    assert flink_opts[flink_opts.index("-py") + 1].endswith("jobs/sentiment.py")
    assert flink_opts[flink_opts.index("-s") + 1] == "s3://b/sp-1"
    assert flink_opts[flink_opts.index("-pyreq") + 1] == str(requirements)
    assert flink_opts[flink_opts.index("-pyexec") + 1] == "/opt/venv/bin/python"
    files = flink_opts[flink_opts.index("-pyfs") + 1].split(",")
    assert files[0].endswith("/udfs") and files[1].endswith("cxstream.zip")
    import zipfile

    with zipfile.ZipFile(files[1]) as zf:
        assert {"cxstream/__init__.py", "cxstream/runtime.py", "cxstream/jobmain.py"} <= set(zf.namelist())
    jars = next(a for a in job_args if a.startswith("pipeline.jars=")).removeprefix("pipeline.jars=").split(";")
    assert jars[0] == connector.as_uri() and jars[-1].endswith(".jar") and "flink-python" in jars[-1]
    assert job_args[:2] == ["--profile", "cluster"] and "--on-cluster" in job_args
    assert job_args[job_args.index("--parallelism") + 1] == "3"


def test_job_discovery_finds_every_job_file() -> None:
    names = submit.job_names()
    assert {"signals", "sentiment", "drift", "quality", "passthrough"} <= set(names)
