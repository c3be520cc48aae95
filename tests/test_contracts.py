"""Contracts, codecs, DDL rendering for both profiles, and the contract checks."""

from __future__ import annotations

import math

import fastavro
import pytest

from cxstream import contracts, validation
from cxstream.codec import Codec, iso_millis, parse_iso_millis
from cxstream.ddl import SourceOptions, TableRenderer
from cxstream.profiles import client_properties_from_env, make_profile
from cxstream.sqlfiles import is_insert, split_statements

T0 = 1_795_000_000_123


def test_every_contract_is_valid_avro_with_a_topic_and_table() -> None:
    names = [c.name for c in contracts.all_contracts()]
    assert set(contracts.INPUTS) | set(contracts.OUTPUTS) == set(names)
    for c in contracts.all_contracts():
        fastavro.parse_schema(c.schema)
        assert c.topic.startswith("cx.")
        assert c.table and c.table.isidentifier()
        for k in c.key:
            assert not c.field(k).nullable, f"{c.name}: key field {k} must be required"


def _sample(name: str) -> dict:
    if name == "interaction":
        return {"event_id": "e1", "customer_id": "c1", "session_id": "s1", "channel": "web",
                "event_type": "add_to_cart", "item_id": None, "amount": 12.5, "currency": "EUR",
                "event_time": T0, "segment": "vip"}
    if name == "context":
        return {"context_id": "x", "context_type": "flight_delay", "customer_id": None, "subject_key": "LHR-JFK",
                "severity": "high", "attributes": {"delay_minutes": "180"}, "event_time": T0}
    raise KeyError(name)


@pytest.mark.parametrize("fmt", ["avro", "json"])
@pytest.mark.parametrize("name", ["interaction", "context"])
def test_codec_round_trips_nullable_fields_timestamps_and_maps(fmt: str, name: str) -> None:
    codec = Codec(contracts.load(name), fmt)
    record = _sample(name)
    assert codec.decode(codec.encode(record)) == record


def test_json_timestamps_are_iso_8601_with_millis() -> None:
    assert iso_millis(T0) == "2026-11-18T11:06:40.123Z"
    assert parse_iso_millis(iso_millis(T0)) == T0
    assert parse_iso_millis("2026-11-18 11:06:40.123") == T0


def test_dlq_contract_is_always_json() -> None:
    assert Codec(contracts.load("dlq_record"), "avro").format == "json"


def test_both_profiles_render_the_same_tables_with_their_own_connectors(monkeypatch) -> None:
    monkeypatch.setenv("CXSTREAM_KAFKA_SASL_JAAS_CONFIG", "org.apache.kafka...PlainLoginModule password='s3cr3t';")
    local = TableRenderer(make_profile("local", "127.0.0.1:9092", "avro"))
    cluster = TableRenderer(make_profile("cluster", "kafka:9092", "avro"))
    opts = SourceOptions(job_name="j", group_id="g")
    for name in contracts.INPUTS:
        c = contracts.load(name)
        lsrc, csrc = local.source(c, c.table, opts, redact=True), cluster.source(c, c.table, opts, redact=True)
        assert "'connector' = 'cx-kafka'" in lsrc and "'value.format' = 'cx-avro'" in lsrc
        assert "'connector' = 'kafka'" in csrc and "'value.format' = 'avro'" in csrc
        assert "dlq.topic" not in csrc and "cx-avro" not in csrc
        for ddl in (lsrc, csrc):
            assert f"'topic' = '{c.topic}'" in ddl
            assert "METADATA FROM 'offset'" in ddl and "WATERMARK FOR `event_time`" in ddl
            assert "s3cr3t" not in ddl and "******" in ddl
    for name in contracts.OUTPUTS:
        c = contracts.load(name)
        lsink, csink = local.sink(c, c.table), cluster.sink(c, c.table)
        if c.key:
            assert "'connector' = 'cx-upsert-kafka'" in lsink and "'connector' = 'upsert-kafka'" in csink
            assert "PRIMARY KEY" in lsink and "PRIMARY KEY" in csink
        else:
            assert "'connector' = 'cx-kafka'" in lsink and "'connector' = 'kafka'" in csink
    # Unredacted DDL (what is executed) carries the secret; printed DDL never does.
    assert "s3cr3t" in local.source(contracts.load("interaction"), "t", opts)


def test_triggers_read_back_are_timed_by_emit_time_while_their_writer_keeps_event_time() -> None:
    """cx.read_back_time: a job reading cx.nba.triggers back takes emit_time (in order on the topic)
    as event time; the decisions job's sink, and every contract without it, keep cx.event_time."""
    renderer = TableRenderer(make_profile("local", "x:1", "avro"))
    trigger = contracts.load("nba_trigger")
    read_back = contracts.as_input(trigger)
    assert (trigger.event_time, read_back.event_time) == ("event_time", "emit_time")
    source = renderer.source(read_back, "t", SourceOptions(job_name="j", group_id="g"))
    assert "WATERMARK FOR `emit_time` AS LEAST(`emit_time`, `kafka_timestamp`)" in source
    late = validation.sql_late_reason(read_back) or ""
    assert "`emit_time` < CURRENT_WATERMARK(`emit_time`)" in late and "event_time" not in late
    assert "'metrics.event-time-field' = 'event_time'" in renderer.sink(trigger, "t")
    for c in contracts.all_contracts():
        if c.name != "nba_trigger":
            assert contracts.as_input(c) == c


def test_avro_columns_are_not_null_exactly_where_the_contract_requires() -> None:
    c = contracts.load("interaction")
    avro_ddl = TableRenderer(make_profile("local", "x:1", "avro")).sink(c, "t", upsert=False)
    json_ddl = TableRenderer(make_profile("local", "x:1", "json")).sink(c, "t", upsert=False)
    assert "`event_id` STRING NOT NULL" in avro_ddl and "`item_id` STRING," in avro_ddl
    assert "NOT NULL" not in json_ddl  # JSON keeps them nullable so missing fields reach the checks
    assert "'value.json.timestamp-format.standard' = 'ISO-8601'" in json_ddl


def test_client_properties_come_from_env_and_file(tmp_path) -> None:
    f = tmp_path / "client.properties"
    f.write_text("# comment\nsecurity.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n")
    props = client_properties_from_env({"CXSTREAM_KAFKA_PROPERTIES_FILE": str(f),
                                        "CXSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"})
    assert props == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"}


def test_validation_rules_in_python() -> None:
    c = contracts.load("interaction")
    good = _sample("interaction")
    assert validation.python_reason(c, good, T0) is None
    assert validation.python_reason(c, {**good, "channel": "fax"}, T0) == "invalid: unknown channel"
    assert validation.python_reason(c, {**good, "customer_id": " "}, T0) == "invalid: empty customer_id"
    assert validation.python_reason(c, {**good, "session_id": None}, T0) == "invalid: missing session_id"
    assert validation.python_reason(c, {**good, "amount": math.nan}, T0) == "invalid: non-finite amount"
    assert validation.python_reason(c, {**good, "amount": math.inf}, T0) == "invalid: non-finite amount"
    day = validation.MAX_CLOCK_SKEW_MS
    assert validation.python_reason(c, {**good, "event_time": T0 - day}, T0) is None
    assert validation.python_reason(c, {**good, "event_time": T0 - day - 1}, T0) == "invalid: absurd event_time"
    ahead = validation.MAX_FUTURE_SKEW_MS
    assert validation.python_reason(c, {**good, "event_time": T0 + ahead}, T0) is None
    assert validation.python_reason(c, {**good, "event_time": T0 + ahead + 1}, T0) == "invalid: absurd event_time"
    sql = validation.sql_reason(c)
    for rule in validation.rules_for(c):
        assert rule.reason in sql


def test_sql_splitting_respects_quotes_and_comments() -> None:
    text = "-- a; comment\nCREATE VIEW v AS SELECT 'a;b' AS x;\n/* ; */ INSERT INTO t SELECT * FROM v;\n"
    stmts = split_statements(text)
    assert stmts == ["CREATE VIEW v AS SELECT 'a;b' AS x", "INSERT INTO t SELECT * FROM v"]
    assert [is_insert(s) for s in stmts] == [False, True]


def test_sql_templates_are_instantiated_once_per_declared_instance(tmp_path) -> None:
    from cxstream.sqlfiles import load

    (tmp_path / "q.sql").write_text("CREATE VIEW v AS SELECT 1;\nINSERT INTO t SELECT '${kind}' FROM ${src};\n"
                                    "INSERT INTO u SELECT REGEXP(x, '^\\s*$') FROM v;\n")
    stmts = load("q.sql", tmp_path, [{"kind": "a", "src": "s1"}, {"kind": "b", "src": "s2"}])
    assert stmts == ["CREATE VIEW v AS SELECT 1", "INSERT INTO t SELECT 'a' FROM s1",
                     "INSERT INTO t SELECT 'b' FROM s2", "INSERT INTO u SELECT REGEXP(x, '^\\s*$') FROM v"]
    with pytest.raises(ValueError, match="declares no instances"):
        load("q.sql", tmp_path)
    with pytest.raises(ValueError, match="does not set"):
        load("q.sql", tmp_path, [{"kind": "a"}])


def test_signals_job_declares_one_query_per_window_kind() -> None:
    from cxstream.runtime import load_spec
    from cxstream.sqlfiles import is_insert, load

    spec = load_spec("signals")
    inserts = [s for s in load("signals.sql", instances=spec.sql_instances) if is_insert(s)]
    kinds = [i["window_kind"] for i in spec.sql_instances]
    assert len(inserts) == len(kinds) == 5
    for kind, statement in zip(kinds, inserts, strict=True):
        assert f"'{kind}'" in statement and "${" not in statement
