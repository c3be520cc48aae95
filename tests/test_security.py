"""Security client options, end to end (README, "Security").

What is proven here and how:

- The mapping from the profile's Java-style properties to kafka-python arguments, and the refusals
  of Java-only settings, by unit tests.
- What the local broker (Tansu 0.6.0) itself offers, measured by running it: its `--authentication`
  switch enforces SASL (SCRAM only) but refuses the request that would create a user, and memory
  storage is the only one built in, so no user can ever log in; its `--cert` switch does not give a
  TLS listener. Both facts are tests, so a future broker that can do better makes them fail.
- So the positive end-to-end proof runs through tests/broker_proxy.py: a TLS-terminating proxy that
  checks SASL credentials (PLAIN, SCRAM-SHA-256/512) like a Kafka broker, with the broker's advertised
  listener pointing at it. Python clients and a real Flink job through the connector produce and
  consume through it with the right credentials (the proxy counts each client that proved its
  password) and fail, in one secret-free line, with wrong ones. What it does not prove: that Tansu
  or any Kafka broker's own SASL implementation accepts these clients; the handshakes are the real
  clients' (kafka-python's, and Java kafka-clients 4.3's inside Flink) against an RFC 5802 server.
- Secrets never leak: distinctive secret values are set, the commands and a short real job
  (including a failing connection) run, and every output and log file is searched for them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxstream import broker
from cxstream.ddl import TableRenderer
from cxstream.errors import describe
from cxstream.kafka_clients import (
    UnsupportedClientProperty,
    java_client_properties,
    python_client_kwargs,
    redact_secrets,
    sasl_credentials,
)
from cxstream.paths import REPO_ROOT
from cxstream.profiles import make_profile
from cxstream.runtime import RunOptions, build, load_spec
from cxstream.sample_data import interactions
from tests import flink_log
from tests.broker_proxy import BrokerProxy
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import produce_records, read_all, read_settled

USER = "cx-analyst"
# Distinctive values: any of them found in an output or a log file is a leak.
SECRET = "Zq7-sekret-PLAIN-4711"
SECRET_SCRAM = "Wv9-sekret-SCRAM-0815"
SECRET_KEY_PASSWORD = "Kp3-sekret-KEYPW-2718"
ALL_SECRETS = (SECRET, SECRET_SCRAM, SECRET_KEY_PASSWORD)


# -- the mapping ------------------------------------------------------------------------------------
def test_jaas_config_maps_to_kafka_python_sasl_arguments() -> None:
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{USER}" '
            f'password="{SECRET}";')
    kw = python_client_kwargs({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                               "sasl.jaas.config": jaas, "ssl.truststore.type": "PEM",
                               "ssl.truststore.location": "/etc/ca.pem"})
    assert kw == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                  "sasl_plain_username": USER, "sasl_plain_password": SECRET,
                  "ssl_cafile": "/etc/ca.pem", "ssl_check_hostname": True}


def test_explicit_username_and_password_become_a_jaas_config_for_java() -> None:
    tricky = 'pa"ss\\word ;x'
    props = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
             "sasl.username": USER, "sasl.password": tricky}
    java = java_client_properties(props)
    assert "sasl.username" not in java and "sasl.password" not in java
    assert java["sasl.jaas.config"].startswith("org.apache.kafka.common.security.plain.PlainLoginModule required ")
    # The JAAS value, parsed back, gives the same credentials: the quoting survives " and \.
    assert sasl_credentials(java) == (USER, tricky)
    kw = python_client_kwargs(props)
    assert (kw["sasl_plain_username"], kw["sasl_plain_password"]) == (USER, tricky)
    assert "ssl_cafile" not in kw


def test_pem_keystore_and_hostname_verification_map_to_python() -> None:
    kw = python_client_kwargs({"security.protocol": "SSL", "ssl.keystore.type": "PEM",
                               "ssl.keystore.location": "/k/client.pem", "ssl.key.password": SECRET_KEY_PASSWORD,
                               "ssl.endpoint.identification.algorithm": ""})
    assert kw == {"security_protocol": "SSL", "ssl_certfile": "/k/client.pem", "ssl_keyfile": "/k/client.pem",
                  "ssl_password": SECRET_KEY_PASSWORD, "ssl_check_hostname": False}


@pytest.mark.parametrize("props, expected", [
    ({"security.protocol": "SSL", "ssl.truststore.location": "/t.jks", "ssl.truststore.password": SECRET},
     "ssl.truststore.type JKS is Java-only"),
    ({"security.protocol": "SSL", "ssl.keystore.type": "PKCS12", "ssl.keystore.location": "/k.p12",
      "ssl.keystore.password": SECRET}, "ssl.keystore.type PKCS12 is Java-only"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI",
      "sasl.jaas.config": f'x.Krb5LoginModule required password="{SECRET}";'}, "sasl.mechanism GSSAPI"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"}, "needs credentials"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": USER}, "together"),
    ({"ssl.keystore.key": SECRET}, "ssl.keystore.key is not usable from the Python clients"),
    ({"sasl.client.callback.handler.class": "com.x.Handler"}, "Java callback handlers"),
    ({"ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"}, "cipher-suite"),
    ({"ssl.provider": "SunJSSE"}, "ssl.provider: not understood"),
])
def test_java_only_security_settings_are_refused_with_a_secret_free_message(props, expected) -> None:
    with pytest.raises(UnsupportedClientProperty) as info:
        python_client_kwargs(props)
    assert expected in str(info.value)
    assert SECRET not in str(info.value)


def test_printed_ddl_and_error_messages_are_redacted(monkeypatch) -> None:
    from cxstream import contracts

    monkeypatch.setenv("CXSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CXSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("CXSTREAM_KAFKA_SASL_USERNAME", USER)
    monkeypatch.setenv("CXSTREAM_KAFKA_SASL_PASSWORD", SECRET)
    profile = make_profile("local", "127.0.0.1:9")
    c = contracts.load("interaction")
    printed = TableRenderer(profile).sink(c, c.table, redact=True)
    executed = TableRenderer(profile).sink(c, c.table, redact=False)
    assert SECRET not in printed and "'properties.sasl.jaas.config' = '******'" in printed
    assert SECRET in executed  # the connector does get it
    assert describe(RuntimeError(f"Invalid JAAS config: password=\"{SECRET}\"")) == \
        'Invalid JAAS config: password="******"'
    assert redact_secrets(f"x {SECRET} y") == "x ****** y"


# -- what the local broker can do itself (measured) ---------------------------------------------------
def _broker_log(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"{name}.log"


def test_local_broker_enforces_sasl_but_cannot_be_given_a_user(tmp_path) -> None:
    """Tansu 0.6.0 with --authentication: SCRAM is enforced, PLAIN not offered, and no user can be made.

    `tansu user create` goes through the broker's AlterUserScramCredentials API, which the broker
    refuses before authentication (NotAuthenticated); memory storage is the only engine built in, so
    a user created on an unauthenticated broker cannot be carried over. Hence the proxy below.
    """
    port = broker.free_port()
    log = _broker_log(tmp_path, "auth")
    with open(log, "ab") as out:
        proc = subprocess.Popen([broker.broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                                 "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                                 "--storage-engine", "memory://tansu/", "--authentication"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        created = subprocess.run([broker.broker_binary(), "user", "create", "--broker", f"tcp://127.0.0.1:{port}",
                                  "--mechanism", "scram256", USER, SECRET],
                                 capture_output=True, text=True, timeout=30)
        assert created.returncode != 0
        assert "NotAuthenticated" in log.read_text()
        for mechanism in ("PLAIN", "SCRAM-SHA-256"):
            props = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
                     "sasl.username": USER, "sasl.password": SECRET}
            assert _probe_with(f"127.0.0.1:{port}", props) is not None
        assert "NoSharedMechanism" in log.read_text()  # PLAIN is not offered at all
        # Without credentials, a plain client is refused too: the switch really enforces SASL.
        assert _probe_with(f"127.0.0.1:{port}", {}) is not None
    finally:
        proc.send_signal(2)
        proc.wait(10)


def test_local_broker_cert_switch_gives_no_tls_listener(tmp_path, certs) -> None:
    """Tansu 0.6.0 `--cert` (it refuses `--cert` together with `--key`): the port still speaks plain TCP."""
    port = broker.free_port()
    combined = tmp_path / "combined.pem"
    combined.write_text(certs["server_cert"].read_text() + certs["server_key"].read_text())
    with open(_broker_log(tmp_path, "tls"), "ab") as out:
        proc = subprocess.Popen([broker.broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                                 "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                                 "--storage-engine", "memory://tansu/", "--cert", str(combined)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        context = ssl.create_default_context(cafile=str(certs["ca"]))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises((TimeoutError, ssl.SSLError, ConnectionError)):
                with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    pass
        assert broker.answers(f"127.0.0.1:{port}", timeout_s=5)  # plain Kafka works on the same port
    finally:
        proc.send_signal(2)
        proc.wait(10)


def _wait_listening(port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def _probe_with(bootstrap: str, props: dict[str, str]) -> str | None:
    saved = {k: v for k, v in os.environ.items() if k.startswith("CXSTREAM_KAFKA_")}
    for k in saved:
        del os.environ[k]
    os.environ.update(_env_for(props))
    try:
        return broker.why_not_answering(bootstrap, timeout_s=4)
    finally:
        for k in _env_for(props):
            os.environ.pop(k, None)
        os.environ.update(saved)


def _env_for(props: dict[str, str]) -> dict[str, str]:
    return {"CXSTREAM_KAFKA_" + k.upper().replace(".", "_"): v for k, v in props.items()}


# -- a SASL_SSL endpoint: the proxy in front of a real broker ---------------------------------------------
@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, made with the openssl command."""
    d = tmp_path_factory.mktemp("certs")
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make test certificates"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=cxstream-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other-ca.pem",
        "-days", "2", "-subj", "/CN=some-other-ca")
    return {"ca": d / "ca.pem", "other_ca": d / "other-ca.pem", "server_cert": d / "server.pem",
            "server_key": d / "server.key"}


@pytest.fixture(scope="module")
def secure(certs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProxy]:
    """SASL_SSL on 127.0.0.1: a TLS + SASL proxy in front of a Tansu broker that advertises the proxy."""
    broker_port, proxy_port = broker.free_port(), broker.free_port()
    log = tmp_path_factory.mktemp("secure-broker") / "broker.log"
    proc = broker.spawn(broker_port, log, advertised_port=proxy_port)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(certs["server_cert"]), str(certs["server_key"]))
    proxy = BrokerProxy(("127.0.0.1", broker_port), port=proxy_port, tls=tls,
                        users={USER: SECRET, "cx-job": SECRET_SCRAM}).start()
    try:
        _wait_listening(broker_port)
        yield proxy
    finally:
        proxy.stop()
        proc.send_signal(2)
        proc.wait(10)


def _secure_props(certs: dict[str, Path], mechanism: str, password: str, user: str = USER) -> dict[str, str]:
    return {"security.protocol": "SASL_SSL", "sasl.mechanism": mechanism, "sasl.username": user,
            "sasl.password": password, "ssl.truststore.type": "PEM", "ssl.truststore.location": str(certs["ca"])}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_python_clients_authenticate_over_tls(secure, certs, mechanism, monkeypatch) -> None:
    for k, v in _env_for(_secure_props(certs, mechanism, SECRET)).items():
        monkeypatch.setenv(k, v)
    before = secure.stats.auth_ok
    assert broker.why_not_answering(secure.address, timeout_s=10) is None
    prefix = f"sec{mechanism.replace('-', '').lower()}."
    profile = make_test_profile(secure.address, prefix, "avro", partitions=2)  # admin client creates topics
    t0 = int(time.time() * 1000) - 60_000
    records = interactions(40, t0, seed=5)
    produce_records(secure.address, profile, "interaction", records, [r["event_time"] for r in records])
    got = read_all(secure.address, profile, "cx.events.interactions", expect=40, timeout_s=60)
    assert sorted(m.record["event_id"] for m in got) == sorted(r["event_id"] for r in records)
    assert secure.stats.auth_ok > before and USER in secure.stats.users_ok


def test_a_refused_login_is_reported_without_waiting_out_the_timeout(secure, certs, monkeypatch) -> None:
    """kafka-python retries a refused login until its bootstrap timeout; the check must not wait for it."""
    for k, v in _env_for(_secure_props(certs, "SCRAM-SHA-256", SECRET_KEY_PASSWORD)).items():
        monkeypatch.setenv(k, v)
    started = time.monotonic()
    reason = broker.why_not_answering(secure.address, timeout_s=30)
    took = time.monotonic() - started
    assert reason is not None and reason.startswith("authentication failed"), reason
    assert took < 15, f"{took:.1f} s: the refusal waited for the 30 s timeout"


def _run_cx(args: list[str], props: dict[str, str], tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(**_env_for(props))
    env.pop(broker.ENV_BOOTSTRAP, None)
    out = subprocess.run([sys.executable, "-m", "cxstream.cli", *args], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=240)
    (tmp_path / f"{name}.out").write_text(out.stdout + "\n--stderr--\n" + out.stderr)
    return out


def test_wrong_credentials_or_wrong_ca_fail_in_one_secret_free_line(secure, certs, tmp_path) -> None:
    wrong = _secure_props(certs, "SCRAM-SHA-256", SECRET_KEY_PASSWORD)  # a real user, a wrong password
    out = _run_cx(["topics", "--bootstrap-servers", secure.address], wrong, tmp_path, "wrong-password")
    assert out.returncode == 1
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"cxstream: error: the Kafka broker at {secure.address} refused the connection: "
                            "authentication failed")
    assert "SCRAM-SHA-256" in first
    bad_ca = {**_secure_props(certs, "PLAIN", SECRET), "ssl.truststore.location": str(certs["other_ca"])}
    out = _run_cx(["tail", "cx.signals", "--bootstrap-servers", secure.address], bad_ca, tmp_path, "wrong-ca")
    assert out.returncode == 1
    assert "TLS handshake failed" in out.stderr.splitlines()[0], out.stderr
    jks = {**_secure_props(certs, "PLAIN", SECRET), "ssl.truststore.type": "JKS"}
    out = _run_cx(["topics", "--bootstrap-servers", secure.address], jks, tmp_path, "jks")
    assert out.returncode == 1 and "ssl.truststore.type JKS is Java-only" in out.stderr.splitlines()[0]
    for f in tmp_path.glob("*.out"):
        for secret in ALL_SECRETS:
            assert secret not in f.read_text(), f"{secret} leaked into {f.name}"


@pytest.mark.slow
def test_flink_job_reads_and_writes_over_sasl_ssl_and_no_secret_leaks(secure, certs, tmp_path, monkeypatch) -> None:
    """A real passthrough job through the connector, credentials from a properties file (SCRAM-SHA-512)."""
    props_file = tmp_path / "client.properties"
    props_file.write_text(
        "# read by cxstream.profiles.client_properties_from_env\n"
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        f'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required '
        f'username="cx-job" password="{SECRET_SCRAM}";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={certs['ca']}\n")
    monkeypatch.setenv("CXSTREAM_KAFKA_PROPERTIES_FILE", str(props_file))
    log_start = flink_log.mark()

    # One partition: this test is about the connection, not about event time across partitions.
    profile = make_test_profile(secure.address, "secjob.", "avro", partitions=1)
    t0 = int(time.time() * 1000) - 60_000
    records = interactions(120, t0, seed=9)
    produce_records(secure.address, profile, "interaction", records, [r["event_time"] for r in records])
    before = secure.stats.auth_ok
    pipeline = build([load_spec("passthrough")], profile, RunOptions(bounded=True, checkpoint_interval=None),
                     job_name="test-security-job")
    pipeline.execute().wait()
    # The Java clients of the job (source enumerator, reader, sink writers) each proved the password.
    assert secure.stats.auth_ok - before >= 3
    out = read_all(secure.address, profile, "cx.bench.passthrough", expect=120, timeout_s=90)
    if len(out) != 120:  # say where the others went before failing
        dlq = read_settled(secure.address, profile, "cx.dlq")
        reasons = Counter(json.loads(m.value)["reason"].split(" by ")[0] for m in dlq)
        pytest.fail(f"{len(out)} of 120 records copied; dead letters: {dict(reasons)}")
    assert sorted(m.record["event_id"] for m in out) == sorted(r["event_id"] for r in records)

    # Wrong password: the job fails (no restarts here), with a clear and secret-free reason.
    props_file.write_text(props_file.read_text().replace(SECRET_SCRAM, SECRET_KEY_PASSWORD))
    failed_before = secure.stats.auth_failed
    bad_profile = make_profile("local", secure.address, "avro", "secjob.").with_(partitions=1)
    bad = build([load_spec("passthrough")], bad_profile,
                RunOptions(bounded=True, checkpoint_interval=None, extra_config={"restart-strategy.type": "none"}),
                job_name="test-security-job-wrong")
    with pytest.raises(Exception) as info:  # noqa: B017 - Py4J's wrapper around the Java failure
        bad.execute().wait()
    message = describe(info.value)
    (tmp_path / "job-failure.out").write_text(message + "\n\n" + str(info.value))
    assert secure.stats.auth_failed > failed_before
    assert "uthentication" in message, message

    logged = flink_log.since(log_start)
    # Flink did log the Kafka clients' configuration (so the search below searched something), with
    # the JAAS config hidden by Kafka's own redaction.
    assert "sasl.jaas.config = [hidden]" in logged and "security.protocol = SASL_SSL" in logged
    for secret in ALL_SECRETS:
        assert secret not in logged, f"{secret} leaked into Flink's log"

    # The commands a user runs print nothing secret either (the properties file has the wrong password
    # now, which is the point: it must not show up in the failure).
    props_file.write_text(props_file.read_text().replace(SECRET_KEY_PASSWORD, SECRET_SCRAM))
    env_file = {"properties.file": str(props_file)}
    cmds = {
        "ddl-local": ["ddl", "--profile", "local"],
        "ddl-cluster": ["ddl", "--profile", "cluster"],
        "explain": ["job", "passthrough", "--bootstrap-servers", secure.address, "--topic-prefix", "secjob.",
                    "--explain"],
        "tail": ["tail", "secjob.cx.bench.passthrough", "--bootstrap-servers", secure.address,
                 "--topic-prefix", "secjob.", "--from-beginning", "--max", "5"],
    }
    for name, args in cmds.items():
        out = _run_cx(args, env_file, tmp_path, name)
        assert out.returncode == 0, (name, out.stderr[-2000:])
    files = list(tmp_path.glob("*.out")) + [p for p in (REPO_ROOT / ".cxstream").rglob("*")
                                            if p.is_file() and "cache" not in p.parts and "jars" not in p.parts]
    for path in files:
        data = path.read_bytes()
        for secret in ALL_SECRETS:
            assert secret.encode() not in data, f"{secret} leaked into {path}"
    # Every Flink JVM on this machine (the `job --explain` subprocess's too) writes the same log
    # file, and a new one starts it afresh; what the jobs above logged was checked before the commands.
    for path in flink_log.log_dir().glob("*.log"):
        data = path.read_bytes()
        for secret in ALL_SECRETS:
            assert secret.encode() not in data, f"{secret} leaked into {path}"
