"""Submit jobs to a Flink cluster the way Flink users do, and follow them over the REST API.

`cxstream submit JOB` runs the distribution's own `bin/flink run -m HOST:PORT -d -py jobs/JOB.py`.
Everything the job needs travels with it, so the cluster needs nothing of this project installed:

- Python code: `udfs/` and the `cxstream` package (zipped) as Python files (`-pyfs`, python.files);
  the client builds the job graph, and the TaskManagers' Python workers import the UDFs from these.
- Jars: with the local profile, this project's connector and the Kafka client jars are listed in
  `pipeline.jars`, which the client uploads to the cluster's blob server with the job graph; with
  the cluster profile, the official connector jars given with `--jar` travel the same way.
- Python requirements: `--requirements FILE` (`-pyreq`) has the TaskManagers pip-install them into a
  job-private directory. The local cluster runs the venv's interpreter, which has them already.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cxstream import cluster
from cxstream.cluster import ClusterError, rest
from cxstream.paths import JOBS_DIR, REPO_ROOT, UDFS_DIR

JOB_ID = re.compile(r"job id ([0-9a-f]{32})|JobID ([0-9a-f]{32})")


def job_names() -> list[str]:
    """Every job declared in jobs/ (a file defining SPEC), in name order."""
    return sorted(p.stem for p in JOBS_DIR.glob("*.py") if not p.stem.startswith("_")
                  and "SPEC = JobSpec(" in p.read_text())


def package_zip() -> Path:
    """The cxstream package as a zip for python.files (a zip is put on the workers' PYTHONPATH)."""
    out = cluster.home() / "ship" / "cxstream.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for p in (REPO_ROOT / "cxstream").rglob("*.py"))
    newest = max(p.stat().st_mtime for p in sources)
    if out.exists() and out.stat().st_mtime >= newest:
        return out
    tmp = out.with_name(f".cxstream-{os.getpid()}-{threading.get_ident()}.zip")  # concurrent submits

    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sources:
            zf.write(p, p.relative_to(REPO_ROOT).as_posix())
    tmp.replace(out)
    return out


@dataclass
class Submission:
    job: str
    jobmanager: str
    parallelism: int = 1
    from_savepoint: str | None = None
    bootstrap_servers: str | None = None
    profile: str = "local"
    topic_prefix: str | None = None
    value_format: str | None = None
    startup_mode: str | None = None
    requirements: str | None = None
    python_executable: str | None = None  # the interpreter on the TaskManagers
    jars: tuple[str, ...] = ()  # extra jars to upload (the official connectors with --profile cluster)
    conf: tuple[str, ...] = ()

    def pipeline_jars(self) -> str:
        """Jars uploaded with the job graph: the connector (local profile) or --jar files, and flink-python.

        The job sets pipeline.jars itself, which replaces the flink-python jar `flink run -py` would
        otherwise ship; a standalone distribution keeps that jar in opt/, not lib/, so it is listed here.
        """
        from cxstream.jars import ensure_jars

        jars = [Path(j).resolve() for j in self.jars]
        if self.profile == "local":
            jars = ensure_jars().all + jars
        jars += sorted((cluster.flink_home() / "opt").glob("flink-python-*.jar"))
        return ";".join(p.as_uri() for p in jars)

    def command(self) -> list[str]:
        """The `flink run` command line (kept as data so tests and --dry-run can show it)."""
        script = JOBS_DIR / f"{self.job}.py"
        if not script.exists():
            raise ClusterError(f"no job {self.job!r} in jobs/ (known: {', '.join(job_names())})")
        python_files = f"{UDFS_DIR},{package_zip()}"
        cmd = ["bash", str(cluster.flink_bin("flink")), "run", "-m", self.jobmanager, "-d",
               "-py", str(script), "-pyfs", python_files, "-pyclientexec", sys.executable]
        if self.python_executable:
            cmd += ["-pyexec", self.python_executable]
        if self.requirements:
            cmd += ["-pyreq", str(Path(self.requirements).resolve())]
        if self.from_savepoint:
            cmd += ["-s", self.from_savepoint]
        # Job arguments: the first one must be unknown to `flink run` so that it stops parsing its
        # own options there (--parallelism and --detached are flink options too).
        cmd += ["--profile", self.profile, "--on-cluster", "--parallelism", str(self.parallelism),
                "--conf", f"python.files={python_files}", "--conf", f"pipeline.jars={self.pipeline_jars()}"]
        if self.python_executable:
            cmd += ["--conf", f"python.executable={self.python_executable}"]
        if self.bootstrap_servers:
            cmd += ["--bootstrap-servers", self.bootstrap_servers]
        if self.topic_prefix is not None:
            cmd += ["--topic-prefix", self.topic_prefix]
        if self.value_format:
            cmd += ["--format", self.value_format]
        if self.startup_mode:
            cmd += ["--startup-mode", self.startup_mode]
        for item in self.conf:
            cmd += ["--conf", item]
        return cmd


def client_env(jobmanager: str) -> dict[str, str]:
    """The environment for `flink run`: the local cluster's configuration when that is the target."""
    state = cluster.read_state()
    if state is not None and jobmanager == state.address:
        return cluster.script_env(state)
    # A remote cluster: the distribution's default client configuration, plus -m on the command.
    env = cluster.script_env(cluster.ClusterState(0, 0, str(cluster.flink_home() / "conf"),
                                                  str(cluster.home() / "log")))
    return env


def submit(sub: Submission, timeout_s: float = 900.0) -> str:
    """Run `flink run` and return the job id it reports."""
    result = subprocess.run(sub.command(), env=client_env(sub.jobmanager), capture_output=True, text=True,
                            timeout=timeout_s, cwd=REPO_ROOT)
    output = result.stdout + result.stderr
    ids = [a or b for a, b in JOB_ID.findall(output)]
    if result.returncode != 0 or not ids:
        log = cluster.home() / "log" / f"submit-{sub.job}.log"
        log.write_text(output)
        causes = re.findall(r"Caused by: ([^\n]+)", output)
        reason = causes[-1] if causes else (output.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(f"submitting {sub.job} failed: {reason[:300]} (full output: {log})")
    return ids[-1]


def list_jobs(jobmanager: str) -> list[dict]:
    """Every job the cluster knows: id, name, state, start time (newest first)."""
    jobs = rest(jobmanager, "/jobs/overview").get("jobs", [])
    return sorted(jobs, key=lambda j: j.get("start-time", 0), reverse=True)


def find_job(jobmanager: str, name_or_id: str, states: tuple[str, ...] = ("RUNNING", "CREATED", "RESTARTING",
                                                                          "INITIALIZING")) -> dict:
    """The live job with this id, or whose name is `cxstream-NAME` or NAME."""
    for job in list_jobs(jobmanager):
        if job["jid"] == name_or_id or job["name"] in (name_or_id, f"cxstream-{name_or_id}"):
            if job["state"] in states:
                return job
    raise ClusterError(f"no running job {name_or_id!r} on {jobmanager} (`cxstream jobs list` shows them)")


def wait_for_state(jobmanager: str, job_id: str, wanted: tuple[str, ...], timeout_s: float = 180.0,
                   fail_on: tuple[str, ...] = ("FAILED",)) -> str:
    deadline = time.monotonic() + timeout_s
    state = "?"
    while time.monotonic() < deadline:
        state = rest(jobmanager, f"/jobs/{job_id}").get("state", "?")
        if state in wanted:
            return state
        if state in fail_on:
            raise ClusterError(f"job {job_id} is {state}: {root_exception(jobmanager, job_id)}")
        time.sleep(0.5)
    raise ClusterError(f"job {job_id} did not reach {'/'.join(wanted)} within {timeout_s:.0f} s (it is {state})")


def wait_until_running(jobmanager: str, job_id: str, timeout_s: float = 180.0) -> None:
    """Until every task of the job is RUNNING (the job's own state turns RUNNING before its tasks do)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = rest(jobmanager, f"/jobs/{job_id}")
        if info.get("state") == "FAILED":
            raise ClusterError(f"job {job_id} failed: {root_exception(jobmanager, job_id)}")
        vertices = info.get("vertices", [])
        if info.get("state") == "RUNNING" and vertices and all(v["status"] == "RUNNING" for v in vertices):
            return
        time.sleep(0.5)
    raise ClusterError(f"job {job_id} did not get all its tasks running within {timeout_s:.0f} s")


def root_exception(jobmanager: str, job_id: str) -> str:
    try:
        info = rest(jobmanager, f"/jobs/{job_id}/exceptions")
    except ClusterError as exc:
        return str(exc)
    history = info.get("exceptionHistory", {}).get("entries", [])
    text = (history[0].get("stacktrace") if history else None) or info.get("root-exception") or "no exception recorded"
    causes = re.findall(r"Caused by: ([^\n]+)", text)
    return (causes[-1] if causes else text.splitlines()[0])[:300]


def completed_checkpoints(jobmanager: str, job_id: str) -> int:
    return int(rest(jobmanager, f"/jobs/{job_id}/checkpoints").get("counts", {}).get("completed", 0))


def stop_with_savepoint(jobmanager: str, job_id: str, target_dir: str | None = None, drain: bool = False,
                        timeout_s: float = 300.0) -> str:
    """REST stop-with-savepoint (POST /jobs/:id/stop); returns the savepoint's path once it is complete.

    Without a directory the cluster's execution.checkpointing.savepoint-dir is used.
    """
    body: dict[str, object] = {"drain": drain, "formatType": "CANONICAL"}
    if target_dir:
        body["targetDirectory"] = target_dir if "://" in target_dir else Path(target_dir).resolve().as_uri()
    trigger = rest(jobmanager, f"/jobs/{job_id}/stop", method="POST", body=body)["request-id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = rest(jobmanager, f"/jobs/{job_id}/savepoints/{trigger}")
        if info.get("status", {}).get("id") == "COMPLETED":
            op = info.get("operation", {})
            if "failure-cause" in op:
                cause = op["failure-cause"].get("stack-trace", "") or str(op["failure-cause"])
                found = re.findall(r"Caused by: ([^\n]+)", cause)
                raise ClusterError(f"stop-with-savepoint of {job_id} failed: "
                                   f"{(found[-1] if found else cause.splitlines()[0])[:300]}")
            return op["location"]
        time.sleep(0.5)
    raise ClusterError(f"stop-with-savepoint of {job_id} did not complete within {timeout_s:.0f} s")


def cancel(jobmanager: str, job_id: str) -> None:
    rest(jobmanager, f"/jobs/{job_id}", method="PATCH")
