"""One place that turns the profile's Kafka client properties into settings for each kind of client.

The suite's security settings are written once, as Java-style Kafka client properties
(``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``, ``ssl.truststore.location`` ...),
from ``CXSTREAM_KAFKA_<PROPERTY>`` variables or the file named by ``CXSTREAM_KAFKA_PROPERTIES_FILE``
(see ``cxstream.profiles.client_properties_from_env``). Two kinds of client consume them:

- the Flink connector (Java kafka-clients), which receives them as ``properties.*`` table options:
  ``java_client_properties`` only adds a ``sasl.jaas.config`` when the user gave a plain
  ``sasl.username`` / ``sasl.password`` pair instead;
- every Python client (kafka-python producers, consumers and admin clients in topics, tail, the
  simulator, the benchmarks, the reference builder and the tests): ``python_client_kwargs`` maps the
  same properties to kafka-python keyword arguments.

Why one mapping: a setting that reaches only one side would give a suite whose jobs authenticate
while its topic creation or live view silently does not (or the other way round). A security setting
that kafka-python cannot honour (a JKS or PKCS12 store, a Java callback handler, GSSAPI, OAUTHBEARER)
raises ``UnsupportedClientProperty`` naming the property and what to use instead; it is never dropped
silently. Non-security tuning properties (``linger.ms``, ``delivery.timeout.ms`` ...) are Java-side
table options only and are not applied to the Python clients.

No secret is ever part of an exception message raised here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cxstream.profiles import client_properties_from_env

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}

# Properties that only make sense to the Java client and are safe for a Python client to skip: they
# tune or locate things kafka-python sets up by itself, or have no counterpart that changes security.
_PYTHON_IGNORES = {
    "ssl.truststore.password",  # only meaningful for JKS/PKCS12 stores, which are refused below
    "ssl.keystore.password",
    "ssl.protocol",  # kafka-python negotiates the highest TLS version both sides support
    "ssl.enabled.protocols",
    "ssl.engine.factory.class",
    "sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds", "sasl.login.refresh.buffer.seconds",
    "sasl.login.connect.timeout.ms", "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms", "sasl.login.retry.backoff.max.ms",
}

# Java-only security settings and what a Python client needs instead.
_JAVA_ONLY_ADVICE = {
    "ssl.truststore.certificates": "put the CA certificates in a PEM file and set "
                                   "ssl.truststore.type=PEM and ssl.truststore.location=FILE",
    "ssl.keystore.certificate.chain": "put the certificate chain and key in a PEM file and set "
                                      "ssl.keystore.type=PEM and ssl.keystore.location=FILE",
    "ssl.keystore.key": "put the certificate chain and key in a PEM file and set "
                        "ssl.keystore.type=PEM and ssl.keystore.location=FILE",
    "ssl.cipher.suites": "Java cipher-suite names have no kafka-python equivalent; remove it",
    "ssl.keymanager.algorithm": "a Java KeyManager setting; remove it",
    "ssl.trustmanager.algorithm": "a Java TrustManager setting; remove it",
    "ssl.secure.random.implementation": "a Java setting; remove it",
    "sasl.client.callback.handler.class": "Java callback handlers cannot run in Python; "
                                          "use PLAIN or SCRAM with a username and password",
    "sasl.login.callback.handler.class": "Java callback handlers cannot run in Python; "
                                         "use PLAIN or SCRAM with a username and password",
    "sasl.login.class": "Java login classes cannot run in Python; use PLAIN or SCRAM",
    "sasl.kerberos.service.name": "GSSAPI (Kerberos) is not supported by the suite's Python clients",
}


# Property names whose values are secrets: redacted from printed DDL, errors and logs the suite writes.
SENSITIVE = re.compile(r"(password|secret|jaas|token|key\.password|keystore|truststore\.password)", re.I)
REDACTED = "******"


def secret_values(props: Mapping[str, str] | None = None) -> list[str]:
    """Every secret in the client properties (from the environment if None), longest first."""
    props = client_properties_from_env() if props is None else props
    found = {v for k, v in props.items() if SENSITIVE.search(k) and v}
    try:
        credentials = sasl_credentials(props)
    except UnsupportedClientProperty:
        credentials = None
    if credentials is not None and credentials[1]:
        found.add(credentials[1])
    return sorted(found, key=len, reverse=True)


def redact_secrets(text: str, props: Mapping[str, str] | None = None) -> str:
    """`text` with every secret of the client properties replaced by ******.

    A last line of defence for messages the suite prints: an exception from the Java client or Flink
    can quote a property it could not parse.
    """
    for secret in secret_values(props):
        text = text.replace(secret, REDACTED)
    return text


class UnsupportedClientProperty(ValueError):
    """A Kafka client property the Python clients cannot honour; the message says what to use instead.

    Raised instead of ignoring the property, because a security setting that one side of the suite
    silently drops would connect that side without the protection the user asked for.
    """


def _parse_jaas(jaas: str) -> tuple[str, dict[str, str]]:
    """The login module and its options from a ``sasl.jaas.config`` value (values never in errors)."""
    m = re.match(r"\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b(.*?);?\s*$", jaas, re.S)
    if not m:
        raise UnsupportedClientProperty(
            "sasl.jaas.config is not of the form '<LoginModule> required username=\"...\" password=\"...\";'")
    module, rest = m.group(1), m.group(3)
    options: dict[str, str] = {}
    for om in re.finditer(r'(\w[\w.]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S+?))(?=\s|;|$)', rest, re.S):
        value = om.group(2) if om.group(2) is not None else om.group(3)
        options[om.group(1)] = re.sub(r"\\(.)", r"\1", value)
    return module, options


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sasl_credentials(props: Mapping[str, str]) -> tuple[str, str] | None:
    """(username, password) from ``sasl.username``/``sasl.password`` or ``sasl.jaas.config``."""
    if "sasl.username" in props or "sasl.password" in props:
        if "sasl.username" not in props or "sasl.password" not in props:
            raise UnsupportedClientProperty("sasl.username and sasl.password must be given together")
        return props["sasl.username"], props["sasl.password"]
    jaas = props.get("sasl.jaas.config")
    if jaas is None:
        return None
    module, options = _parse_jaas(jaas)
    if not module.endswith(("PlainLoginModule", "ScramLoginModule")):
        raise UnsupportedClientProperty(
            f"sasl.jaas.config uses {module}; the Python clients support PlainLoginModule and "
            "ScramLoginModule (username and password) only")
    if "username" not in options or "password" not in options:
        raise UnsupportedClientProperty("sasl.jaas.config must set both username and password")
    return options["username"], options["password"]


def java_client_properties(props: Mapping[str, str]) -> dict[str, str]:
    """Properties for the Java client: ``sasl.username``/``sasl.password`` become a JAAS config.

    The Java client knows only ``sasl.jaas.config``; accepting the plain pair as well lets a user keep
    the password in its own variable (CXSTREAM_KAFKA_SASL_PASSWORD) or file line.
    """
    out = dict(props)
    user = out.pop("sasl.username", None)
    password = out.pop("sasl.password", None)
    if user is not None or password is not None:
        if user is None or password is None:
            raise UnsupportedClientProperty("sasl.username and sasl.password must be given together")
        if "sasl.jaas.config" in out:
            raise UnsupportedClientProperty("give either sasl.jaas.config or sasl.username/sasl.password, "
                                            "not both")
        mechanism = out.get("sasl.mechanism", "PLAIN").upper()
        if mechanism not in _LOGIN_MODULES:
            raise UnsupportedClientProperty(f"sasl.mechanism {mechanism} is not one of {', '.join(SASL_MECHANISMS)}")
        out["sasl.jaas.config"] = (f"{_LOGIN_MODULES[mechanism]} required username={_jaas_quote(user)} "
                                   f"password={_jaas_quote(password)};")
    return out


def _store_file(props: Mapping[str, str], store: str) -> str | None:
    location = props.get(f"ssl.{store}.location")
    if location is None:
        return None
    kind = props.get(f"ssl.{store}.type", "JKS").upper()
    if kind != "PEM":
        raise UnsupportedClientProperty(
            f"ssl.{store}.type {kind} is Java-only: the Python clients read PEM files; convert the store "
            f"(e.g. keytool -exportcert -rfc / openssl pkcs12) and set ssl.{store}.type=PEM and "
            f"ssl.{store}.location=FILE.pem (the Flink connector reads PEM too)")
    return location


def python_client_kwargs(props: Mapping[str, str] | None = None) -> dict[str, Any]:
    """kafka-python keyword arguments for the profile's client properties (from the environment if None).

    Maps security.protocol, sasl.mechanism, the SASL username/password (explicit or from a
    Plain/Scram ``sasl.jaas.config``), PEM trust and key stores and hostname verification. Raises
    UnsupportedClientProperty for a security setting kafka-python cannot honour.
    """
    props = client_properties_from_env() if props is None else props
    kwargs: dict[str, Any] = {}
    for key in props:
        if key in _JAVA_ONLY_ADVICE:
            raise UnsupportedClientProperty(f"{key} is not usable from the Python clients: {_JAVA_ONLY_ADVICE[key]}")
    protocol = props.get("security.protocol", "PLAINTEXT").upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise UnsupportedClientProperty(f"security.protocol {protocol} is not one of {', '.join(SECURITY_PROTOCOLS)}")
    kwargs["security_protocol"] = protocol
    if protocol.startswith("SASL_"):
        mechanism = props.get("sasl.mechanism", "GSSAPI").upper()
        if mechanism not in SASL_MECHANISMS:
            raise UnsupportedClientProperty(
                f"sasl.mechanism {mechanism} is not supported by the suite's Python clients; "
                f"use one of {', '.join(SASL_MECHANISMS)}")
        credentials = sasl_credentials(props)
        if credentials is None:
            raise UnsupportedClientProperty(
                f"security.protocol {protocol} needs credentials: sasl.jaas.config, or sasl.username and "
                "sasl.password")
        kwargs["sasl_mechanism"] = mechanism
        kwargs["sasl_plain_username"], kwargs["sasl_plain_password"] = credentials
    if protocol in ("SSL", "SASL_SSL"):
        cafile = _store_file(props, "truststore")
        if cafile is not None:
            kwargs["ssl_cafile"] = cafile
        keyfile = _store_file(props, "keystore")
        if keyfile is not None:  # a PEM keystore holds the private key and the certificate chain
            kwargs["ssl_certfile"] = keyfile
            kwargs["ssl_keyfile"] = keyfile
            if "ssl.key.password" in props:
                kwargs["ssl_password"] = props["ssl.key.password"]
        kwargs["ssl_check_hostname"] = props.get("ssl.endpoint.identification.algorithm", "https").lower() == "https"
    unknown = [k for k in props if k.startswith(("ssl.", "sasl.")) and k not in _PYTHON_IGNORES and k not in {
        "sasl.mechanism", "sasl.jaas.config", "sasl.username", "sasl.password", "ssl.truststore.location",
        "ssl.truststore.type", "ssl.keystore.location", "ssl.keystore.type", "ssl.key.password",
        "ssl.endpoint.identification.algorithm"}]
    if unknown:
        raise UnsupportedClientProperty(f"{', '.join(sorted(unknown))}: not understood by the suite's Python "
                                        "clients (README, Security, lists what is)")
    return kwargs
