"""A standalone Flink cluster (one JobManager, one TaskManager) from the distribution in the wheel.

The apache-flink wheel carries a complete Flink distribution (`pyflink/bin`, `lib/`, `opt/`,
`conf/`). `cxstream cluster start` runs its own `jobmanager.sh` and `taskmanager.sh` with a generated
configuration directory (FLINK_CONF_DIR = .cxstream/cluster/conf, Flink 2.x reads `config.yaml`), so
the processes are the same ones a Flink user runs, bound to loopback on free ports. Logs, PID files,
checkpoints and savepoints all live under .cxstream/cluster/. The cluster is found again through
.cxstream/cluster/cluster.json and asked about its health over the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from cxstream.paths import site_packages, sub_dir

HOST = "localhost"  # resolves to loopback; the JobManager's RPC address must be a name Pekko accepts

# Kept modest: the whole machine has 2 cores and other work beside the cluster. The TaskManager
# also hosts the Python UDF workers, which take their memory from its managed memory.
DEFAULTS = {
    "slots": 2,
    "jobmanager_memory": "1024m",
    "taskmanager_memory": "2048m",
    "checkpoint_interval": "10 s",
}


CLIENT_JAVA_OPTS = "-XX:TieredStopAtLevel=1"


class ClusterError(RuntimeError):
    """The cluster could not be started, reached or stopped; the message says why in one line."""


@dataclass(frozen=True)
class ClusterState:
    rest_port: int
    rpc_port: int
    conf_dir: str
    log_dir: str
    slots: int = DEFAULTS["slots"]

    @property
    def address(self) -> str:
        """HOST:PORT of the REST endpoint: what `flink run -m` and `cxstream submit --jobmanager` take."""
        return f"{HOST}:{self.rest_port}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.rest_port}"


def home() -> Path:
    """Where the cluster's config, logs, PIDs, checkpoints and savepoints go (CXSTREAM_CLUSTER_HOME for tests)."""
    explicit = os.environ.get("CXSTREAM_CLUSTER_HOME")
    if explicit:
        Path(explicit).mkdir(parents=True, exist_ok=True)
        return Path(explicit).resolve()
    return sub_dir("cluster")


def flink_home() -> Path:
    """The Flink distribution inside the installed apache-flink wheel."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def flink_bin(name: str) -> Path:
    return flink_home() / "bin" / name


def _state_file() -> Path:
    return home() / "cluster.json"


def read_state() -> ClusterState | None:
    try:
        return ClusterState(**json.loads(_state_file().read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise ClusterError("java not found: Flink needs a Java 17 runtime on PATH or in JAVA_HOME "
                           "(Debian: apt-get install openjdk-17-jre-headless)")
    return found


def cluster_config(rest_port: int, rpc_port: int, root: Path, slots: int = DEFAULTS["slots"],
                   python: str | None = None) -> dict[str, object]:
    """The cluster's config.yaml, as flat Flink keys. Kept as data so tests can read it."""
    default = _default_java_opts()
    return {
        # Loopback only: the cluster is for this machine; nothing else can reach it.
        "jobmanager.rpc.address": HOST,
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.bind-host": HOST,
        "jobmanager.memory.process.size": DEFAULTS["jobmanager_memory"],
        "jobmanager.execution.failover-strategy": "region",
        "taskmanager.bind-host": HOST,
        "taskmanager.host": HOST,
        "taskmanager.numberOfTaskSlots": slots,
        "taskmanager.memory.process.size": DEFAULTS["taskmanager_memory"],
        # Every job loads the connector and Kafka client classes from its own pipeline.jars into its
        # own class loader; with the whole suite on one TaskManager (and restarts reloading them) the
        # default 256 MB metaspace ran out and killed the TaskManager (measured: OutOfMemoryError:
        # Metaspace after six jobs were submitted).
        "taskmanager.memory.jvm-metaspace.size": "768m",
        "rest.address": HOST,
        "rest.bind-address": HOST,
        "rest.port": rest_port,
        "parallelism.default": 1,
        # A killed TaskManager is noticed within seconds instead of the default 50 s.
        "heartbeat.interval": "2 s",
        "heartbeat.timeout": "20 s",
        # Checkpointing on by default, with a state backend that ships with the distribution; jobs
        # restart from their last checkpoint, and keep it when cancelled so they can resume from it.
        "execution.checkpointing.interval": DEFAULTS["checkpoint_interval"],
        "execution.checkpointing.dir": (root / "checkpoints").as_uri(),
        "execution.checkpointing.savepoint-dir": (root / "savepoints").as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.backend.type": "hashmap",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": 20,
        "restart-strategy.fixed-delay.delay": "2 s",
        # Python UDF workers run the venv's interpreter, which has the project's dependencies.
        "python.executable": python or sys.executable,
        "python.client.executable": python or sys.executable,
        "python.pythonpath": site_packages(python),
        "env.log.dir": str(root / "log"),
        "env.pid.dir": str(root / "pid"),
        "env.java.opts.all": default,
        # `flink run` (cxstream submit) starts a client JVM that builds one job graph and exits: the
        # C2 compiler's threads cost it CPU that never pays back. C1 only made a decisions job's
        # graph build take 17-19 s instead of 22-35 s on this 2-core machine (`--explain`, 3 runs
        # each); the JobManager and TaskManager, which live long, keep the default.
        "env.java.opts.client": CLIENT_JAVA_OPTS,
    }


def _default_java_opts() -> str:
    """The JVM flags the distribution's own config.yaml sets (module opens Flink needs on Java 17)."""
    import yaml

    text = (flink_home() / "conf" / "config.yaml").read_text()
    conf = yaml.safe_load(text) or {}
    return str(conf.get("env", {}).get("java", {}).get("opts", {}).get("all", ""))


def write_conf(conf_dir: Path, config: dict[str, object]) -> None:
    """config.yaml plus the distribution's logging configuration, which the scripts expect beside it."""
    import yaml

    conf_dir.mkdir(parents=True, exist_ok=True)
    for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties", "log4j-session.properties",
                 "logback.xml", "logback-console.xml"):
        src = flink_home() / "conf" / name
        if src.exists():
            shutil.copyfile(src, conf_dir / name)
    (conf_dir / "workers").write_text(f"{HOST}\n")
    (conf_dir / "masters").write_text(f"{HOST}:{config['rest.port']}\n")
    (conf_dir / "config.yaml").write_text(
        "# Generated by `cxstream cluster start`; regenerated on every start.\n"
        + yaml.safe_dump(config, sort_keys=False, width=1_000_000))


def script_env(state: ClusterState) -> dict[str, str]:
    """The environment for the distribution's scripts and for `flink run` against this cluster.

    Without what a process that ran PyFlink leaves in its environment (PYTHONPATH, FLINK_*, PYFLINK_*):
    the scripts find the distribution from their own location, and a child that inherits
    PYFLINK_GATEWAY_DISABLED would refuse to start its own gateway.
    """
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("PYFLINK", "_PYFLINK", "FLINK_", "_PYTHON_WORKER")) or k == "PYTHONPATH")}
    env["FLINK_CONF_DIR"] = state.conf_dir
    env["FLINK_LOG_DIR"] = state.log_dir
    env["FLINK_PID_DIR"] = str(Path(state.log_dir).parent / "pid")
    java = java_binary()
    env.setdefault("JAVA_HOME", str(Path(java).resolve().parent.parent))
    return env


def rest(state: ClusterState | str, path: str, method: str = "GET", body: dict | None = None,
         timeout_s: float = 10.0) -> dict:
    """One call to the JobManager's REST API; raises ClusterError with the server's message."""
    base = state.url if isinstance(state, ClusterState) else f"http://{state}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            errors = json.loads(detail).get("errors", [])
            detail = errors[0].splitlines()[0] if errors else detail
        except ValueError:
            pass
        raise ClusterError(f"{method} {path}: HTTP {exc.code}: {detail[:300]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ClusterError(f"no Flink JobManager answers at {base} ({exc})") from None
    return json.loads(text) if text else {}


def overview(state: ClusterState | str) -> dict | None:
    try:
        return rest(state, "/overview", timeout_s=3)
    except ClusterError:
        return None


def _pids(kind: str, state: ClusterState) -> list[int]:
    """PIDs the distribution's scripts recorded for `standalonesession` or `taskexecutor`."""
    pid_dir = Path(state.log_dir).parent / "pid"
    out = []
    for f in pid_dir.glob(f"flink-*-{kind}.pid"):
        for line in f.read_text().split():
            if line.strip().isdigit() and _alive(int(line)):
                out.append(int(line))
    return out


def taskmanager_pids(state: ClusterState) -> list[int]:
    return _pids("taskexecutor", state)


def jobmanager_pids(state: ClusterState) -> list[int]:
    return _pids("standalonesession", state)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (killed but not reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _run_script(state: ClusterState, script: str, *args: str) -> None:
    result = subprocess.run(["bash", str(flink_bin(script)), *args], env=script_env(state),
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ClusterError(f"{script} {' '.join(args)} failed: {(result.stdout + result.stderr).strip()[-400:]}")


def start_taskmanager(state: ClusterState | None = None) -> None:
    """Start one more TaskManager process (the failure test uses it to replace a killed one)."""
    state = state or require_running()
    _run_script(state, "taskmanager.sh", "start")


def wait_for_taskmanagers(state: ClusterState, count: int, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    last: dict | None = None
    while time.monotonic() < deadline:
        last = overview(state)
        if last and last.get("taskmanagers", 0) >= count and last.get("slots-total", 0) >= count * state.slots:
            return last
        time.sleep(0.5)
    raise ClusterError(f"the cluster did not report {count} TaskManager(s) within {timeout_s:.0f} s "
                       f"(last overview: {last}); logs in {state.log_dir}")


def start(rest_port: int | None = None, slots: int = DEFAULTS["slots"],
          timeout_s: float = 180.0) -> tuple[ClusterState, bool]:
    """Start the cluster unless it already answers; returns (state, started_now)."""
    java_binary()
    current = read_state()
    if current and overview(current) is not None:
        if rest_port and rest_port != current.rest_port:
            raise ClusterError(f"a cluster is already running on port {current.rest_port}; "
                               "`cxstream cluster stop` it first")
        return current, False
    if current:  # stale: processes left behind by a cluster that no longer answers
        _stop_processes(current)
    if rest_port is not None and not port_is_free(rest_port):
        raise ClusterError(f"port {rest_port} on 127.0.0.1 is busy: choose another with --port, or omit it")
    root = home()
    state = ClusterState(rest_port=rest_port or free_port(), rpc_port=free_port(),
                         conf_dir=str(root / "conf"), log_dir=str(root / "log"), slots=slots)
    for sub in ("log", "pid", "checkpoints", "savepoints"):
        (root / sub).mkdir(exist_ok=True)
    write_conf(Path(state.conf_dir), cluster_config(state.rest_port, state.rpc_port, root, slots))
    _state_file().write_text(json.dumps(asdict(state)))
    _run_script(state, "jobmanager.sh", "start")
    _run_script(state, "taskmanager.sh", "start")
    try:
        wait_for_taskmanagers(state, 1, timeout_s)
    except ClusterError:
        _stop_processes(state)
        raise
    return state, True


def require_running() -> ClusterState:
    state = read_state()
    if state is None or overview(state) is None:
        raise ClusterError("no cxstream Flink cluster is running: start one with `cxstream cluster start`")
    return state


def _stop_processes(state: ClusterState, timeout_s: float = 30.0) -> None:
    for script in ("taskmanager.sh", "jobmanager.sh"):
        try:
            _run_script(state, script, "stop-all")
        except (ClusterError, subprocess.TimeoutExpired):
            pass
    deadline = time.monotonic() + timeout_s
    left = taskmanager_pids(state) + jobmanager_pids(state)
    while left and time.monotonic() < deadline:
        time.sleep(0.3)
        left = [p for p in left if _alive(p)]
    for pid in left:  # the scripts send SIGTERM; whatever ignored it is killed
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for f in (Path(state.log_dir).parent / "pid").glob("flink-*.pid"):
        f.unlink()


def stop() -> bool:
    """Stop the cluster's processes; False when there was none."""
    state = read_state()
    if state is None:
        return False
    was_up = overview(state) is not None or bool(taskmanager_pids(state) + jobmanager_pids(state))
    _stop_processes(state)
    _state_file().unlink(missing_ok=True)
    return was_up


def status() -> tuple[ClusterState, dict] | None:
    state = read_state()
    if state is None:
        return None
    info = overview(state)
    return (state, info) if info is not None else None
