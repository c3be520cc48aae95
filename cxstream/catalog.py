"""The analysts' catalog: every suite topic as a table, bound by a profile.

`cxstream sql` runs an analyst's statements in a table environment where these already exist, so
a query names ``interactions`` or ``signals`` and never a connector, topic or format:

- the inputs as the jobs see them: ``interactions``, ``messages``, ``context_events``,
  ``outcomes`` hold the valid, on-time rows (``<table>_raw`` and ``<table>_checked`` are there too,
  for looking at what the contract checks refuse, with ``dlq_reason``);
- the outputs as source tables under their contract's name: ``signals``, ``sentiment``, ``drift``,
  ``nba_triggers``, ``alerts``, ``dlq``.

The tables are the jobs' own definitions (cxstream.runtime.Pipeline), so an analyst's query sees
exactly the rows a job would.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxstream import contracts
from cxstream.profiles import Profile
from cxstream.runtime import Pipeline, RunOptions, create_table_env, flink_config

ANALYST_DLQ = "cx.dlq.sql"


@dataclass(frozen=True)
class CatalogTable:
    name: str
    topic: str
    role: str  # "input" or "output"
    columns: tuple[tuple[str, str], ...]  # (name, Flink type)
    doc: str


def _describe(contract: contracts.Contract) -> str:
    return str(contract.schema.get("doc") or "").split(". ")[0].strip().rstrip(".")


def catalog_tables(profile: Profile) -> list[CatalogTable]:
    """What the catalog holds, without starting Flink (for `tables`, `--help` and the README)."""
    from cxstream.ddl import SOURCE_METADATA, flink_type

    out = []
    for role, names in (("input", contracts.INPUTS), ("output", contracts.OUTPUTS)):
        for name in names:
            c = contracts.load(name)
            cols = [(f.name, flink_type(f, False)) for f in c.fields]
            if role == "input":
                cols.append(("kafka_timestamp", "TIMESTAMP_LTZ(3)"))
            else:
                cols += [(col, typ) for col, typ, _ in SOURCE_METADATA]
            out.append(CatalogTable(c.table, profile.topic(c.topic), role, tuple(cols), _describe(c)))
    return out


def build_catalog(profile: Profile, opts: RunOptions, job_name: str = "cxstream-sql") -> Pipeline:
    """A table environment with every suite topic registered as a table.

    Inputs do not route bad rows to the DLQ here (the jobs do that); their valid views only leave
    them out, so an analyst's count equals the job's. Records the connector cannot decode go to
    ``cx.dlq.sql`` rather than ``cx.dlq``: the jobs already dead-lettered them there, and every
    analyst query would otherwise add another copy.
    """
    from cxstream.topics import TopicSpec, ensure_topics

    ensure_topics(profile.bootstrap_servers, [TopicSpec(profile.topic(ANALYST_DLQ), profile.partitions)])
    t_env = create_table_env(flink_config(profile, opts, job_name))
    pipeline = Pipeline(t_env, profile, opts, job_name)
    pipeline.source_dlq_topic = ANALYST_DLQ
    for name in contracts.INPUTS:
        pipeline.add_input(name, route_dlq=False)
    for name in contracts.OUTPUTS:
        pipeline.add_output_source(name)
    return pipeline
