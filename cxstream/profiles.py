"""Profiles bind the suite's logical tables to physical connectors.

The same job code and the same sql/ run against either profile:

- ``local``: this project's connector (``cx-kafka`` / ``cx-upsert-kafka``, built from connector/ at
  set-up) against the local broker, values in the ``cx-avro`` format.
- ``cluster``: Flink's official ``kafka`` / ``upsert-kafka`` connectors and ``avro`` format, for a
  user's Kafka and Flink (coordinates in deploy/README.md).

Security settings (SASL, TLS) are client properties; they come from the environment or a file,
never from code, and are rendered into DDL only when executing, never when printing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROFILES = ("local", "cluster")


@dataclass(frozen=True)
class Connectors:
    append: str
    upsert: str
    avro_format: str
    # Option prefix under which a format takes the writer schema, or None when the format derives
    # it from the table (Flink's own avro format does).
    avro_schema_option: str | None
    supports_dlq: bool
    # The connector reports records and event-time lag per topic ('metrics.event-time-field').
    topic_metrics: bool = False


LOCAL_CONNECTORS = Connectors("cx-kafka", "cx-upsert-kafka", "cx-avro", "cx-avro.schema", True, topic_metrics=True)
CLUSTER_CONNECTORS = Connectors("kafka", "upsert-kafka", "avro", None, False)


@dataclass(frozen=True)
class Profile:
    name: str
    bootstrap_servers: str
    value_format: str = "avro"  # avro | json
    topic_prefix: str = ""
    partitions: int = 3
    watermark_delay_s: int = 5
    # Extra client properties (security and tuning), passed as properties.* to every table.
    client_properties: dict[str, str] = field(default_factory=dict)

    @property
    def connectors(self) -> Connectors:
        return LOCAL_CONNECTORS if self.name == "local" else CLUSTER_CONNECTORS

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def with_(self, **changes: object) -> Profile:
        return replace(self, **changes)  # type: ignore[arg-type]


def client_properties_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Kafka client properties from CXSTREAM_KAFKA_<NAME> variables or a properties file.

    CXSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL becomes security.protocol=SASL_SSL. A file named by
    CXSTREAM_KAFKA_PROPERTIES_FILE (Java properties syntax) is read first; variables override it.
    """
    env = os.environ if environ is None else environ
    props: dict[str, str] = {}
    path = env.get("CXSTREAM_KAFKA_PROPERTIES_FILE")
    if path:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "!")) and "=" in line:
                key, value = line.split("=", 1)
                props[key.strip()] = value.strip()
    for name, value in env.items():
        if name.startswith("CXSTREAM_KAFKA_") and name != "CXSTREAM_KAFKA_PROPERTIES_FILE":
            props[name.removeprefix("CXSTREAM_KAFKA_").lower().replace("_", ".")] = value
    return props


def make_profile(name: str, bootstrap_servers: str, value_format: str | None = None,
                 topic_prefix: str | None = None) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return Profile(
        name=name,
        bootstrap_servers=bootstrap_servers,
        value_format=value_format or os.environ.get("CXSTREAM_FORMAT", "avro"),
        topic_prefix=topic_prefix if topic_prefix is not None else os.environ.get("CXSTREAM_TOPIC_PREFIX", ""),
        client_properties=client_properties_from_env(),
    )
