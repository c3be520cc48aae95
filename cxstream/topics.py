"""Create the suite's topics from the contracts, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from cxstream.contracts import COPY_TOPICS, all_contracts

DEFAULT_PARTITIONS = 3


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def suite_topics(prefix: str = "", partitions: int = DEFAULT_PARTITIONS) -> list[TopicSpec]:
    names = [c.topic for c in all_contracts()] + list(COPY_TOPICS)
    return [TopicSpec(prefix + name, partitions) for name in names]


def ensure_topics(bootstrap_servers: str, topics: list[TopicSpec]) -> list[str]:
    """Create whichever topics are missing; returns the names created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from cxstream.kafka_clients import python_client_kwargs

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000,
                             **python_client_kwargs())
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(t.name, t.partitions, 1) for t in missing])
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process: that is the state we wanted
        return [t.name for t in missing]
    finally:
        admin.close()
