"""`cxstream sql`: the analysts' recipes in sql/examples/ run bounded over simulator data on the real
broker and are compared with pandas over the same records; EXPLAIN; bad SQL gives one line."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cxstream.catalog import build_catalog
from cxstream.flink_logging import FALSE_ALARM
from cxstream.livetable import LiveTable
from cxstream.paths import REPO_ROOT, SQL_DIR
from cxstream.runtime import RunOptions
from cxstream.simulator import SimulatorConfig, run
from cxstream.sqlfiles import split_located
from cxstream.sqlrun import QueryOptions, Session, located_error
from tests.conftest import make_test_profile, subprocess_env
from tests.kafka_io import read_written, run_bounded

EXAMPLES = SQL_DIR / "examples"


def test_statements_keep_the_line_they_start_on() -> None:
    text = "-- note\nSELECT 1;\n\n  /* c */ SELECT\n 2;\nSELECT 3"
    got = [(s.text, s.line, s.terminated) for s in split_located(text)]
    assert got == [("SELECT 1", 2, True), ("SELECT\n 2", 4, True), ("SELECT 3", 6, False)]


def test_query_hints_survive_the_split_and_comments_do_not() -> None:
    text = "SELECT /*+ STATE_TTL('a' = '1h') */ x /* a note; */ FROM a;"
    assert [s.text for s in split_located(text)] == ["SELECT /*+ STATE_TTL('a' = '1h') */ x  FROM a"]


def test_a_calcite_position_is_turned_into_a_file_line() -> None:
    stmt = split_located("\n\nSELECT a,\n  b FROM nowhere;")[0]
    exc = RuntimeError("An error occurred while calling o75.explainSql.\n: org.apache.flink.table.api."
                       "ValidationException: SQL validation failed. From line 2, column 10 to line 2, "
                       "column 16: Object 'nowhere' not found\n\tat org.apache.Foo(Foo.java:1)")
    assert str(located_error("q.sql", stmt, exc)) == (
        "q.sql:4: SQL validation failed: Object 'nowhere' not found (column 10)")


def test_live_table_applies_retractions() -> None:
    t = LiveTable(["k", "n"])
    t.apply("INSERT", ("a", 1))
    t.apply("UPDATE_BEFORE", ("a", 1))
    t.apply("UPDATE_AFTER", ("a", 2))
    t.apply("INSERT", ("b", 1))
    t.apply("DELETE", ("b", 1))
    assert t.rows == [("a", 2)] and t.changes == 5
    with pytest.raises(ValueError):
        t.apply("DELETE", ("zz", 0))
    assert "| a | 2 |" in t.render()


def _ms(value: object) -> int:
    if isinstance(value, datetime):  # TIMESTAMP(3) of a window TVF: naive, in the session zone (UTC)
        return round(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)
    return int(value)  # type: ignore[arg-type]


def _close(a: object, b: object) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))  # type: ignore[arg-type]


def _run_recipe(session: Session, name: str) -> LiveTable:
    tables = session.run_text(name, (EXAMPLES / name).read_text())
    assert len(tables) == 1
    return tables[0]


@pytest.mark.slow
def test_recipes_equal_pandas_over_the_same_records(bootstrap: str, prefix: str) -> None:
    profile = make_test_profile(bootstrap, prefix, "avro")
    start = (int(time.time() * 1000) // 600_000 - 12) * 600_000
    config = SimulatorConfig(seed=5, clock="simulated", start_ms=start, rate=0, event_rate=8,
                             duration_s=25 * 60, customers=150, topic_prefix=prefix, collect=True,
                             bad_share=0.02, scenarios=("cart_abandon_negative_chat",))
    stats = run(config, bootstrap, progress=False)
    events = pd.DataFrame([p.record for p in stats.records[profile.topic("cx.events.interactions")]
                           if not p.duplicate])
    assert len(events) > 2000
    run_bounded("sentiment", profile)  # fills cx.sentiment and cx.dlq for the output-table recipes

    pipeline = build_catalog(profile, RunOptions(bounded=True, checkpoint_interval=None), "test-sql")
    out = io.StringIO()
    session = Session(pipeline, QueryOptions(), out)

    # EXPLAIN prints a plan.
    session.run_text("explain", "EXPLAIN SELECT customer_id, event_count FROM signals WHERE purchases > 0;")
    assert "== Optimized Physical Plan ==" in out.getvalue() and "TableSourceScan" in out.getvalue()

    # top_journeys: (previous, next) transitions within a session, in event-time order.
    assert not events.duplicated(["session_id", "event_time"]).any(), "ties would make LAG's order ambiguous"
    ordered = events.sort_values(["session_id", "event_time"])
    ordered["previous_step"] = ordered.groupby("session_id")["event_type"].shift()
    counts = ordered.dropna(subset=["previous_step"]).groupby(["previous_step", "event_type"]).size()
    got = _run_recipe(session, "top_journeys.sql").as_dicts()
    assert len(got) == 10
    for row in got:
        assert row["transitions"] == counts[(row["previous_step"], row["next_step"])], row
    assert sorted(r["transitions"] for r in got) == sorted(counts.nlargest(10).tolist())

    # conversion_by_channel: 10-minute tumbling windows per channel.
    ev = events.assign(window_start=events["event_time"] // 600_000 * 600_000)
    purchases = ev[ev["event_type"] == "purchase"]
    expected = {}
    for (ws, channel), g in ev.groupby(["window_start", "channel"]):
        buyers = purchases[(purchases["window_start"] == ws) & (purchases["channel"] == channel)]
        revenue = buyers["amount"].sum() if len(buyers) else None
        expected[(ws, channel)] = (g["session_id"].nunique(), buyers["session_id"].nunique(), revenue)
    got = _run_recipe(session, "conversion_by_channel.sql").as_dicts()
    assert len(got) == len(expected)
    for row in got:
        sessions, buying, revenue = expected[(_ms(row["window_start"]), row["channel"])]
        assert (row["sessions"], row["buying_sessions"]) == (sessions, buying), row
        assert _close(row["conversion"], buying / sessions) and _close(revenue, row["revenue"]), row

    # sentiment_by_agent: over what the sentiment job wrote to cx.sentiment.
    sent = pd.DataFrame([m.record for m in read_written(bootstrap, profile, "cx.sentiment")])
    agents = sent[(sent["scope"] == "agent")
                  & (pd.to_datetime(sent["window_start"], unit="ms").dt.minute % 5 == 0)]
    assert agents["scope_id"].nunique() > 2
    got = {r["agent_id"]: r for r in _run_recipe(session, "sentiment_by_agent.sql").as_dicts()}
    assert set(got) == set(agents["scope_id"])
    for agent, g in agents.groupby("scope_id"):
        turns = g["message_count"].sum()
        row = got[agent]
        assert row["customer_turns"] == turns
        assert _close((g["mean_compound"] * g["message_count"]).sum() / turns, row["mean_sentiment"])
        assert _close(g["min_compound"].min(), row["worst_turn"])

    # dead_letters: over cx.dlq (the simulator's bad records, refused by the sentiment job's source).
    dlq = pd.DataFrame([m.record for m in read_written(bootstrap, profile, "cx.dlq")])
    assert len(dlq) > 0 and set(dlq["job"]) == {"test-sentiment"}, "analyst queries add no letters to cx.dlq"
    dlq["reason_kind"] = dlq["reason"].map(lambda r: re.match(r"^[^0-9]*", r).group(0))
    expected = dlq.groupby(["job", "stage", "reason_kind"]).size().to_dict()
    got = _run_recipe(session, "dead_letters.sql").as_dicts()
    assert {(r["job"], r["stage"], r["reason_kind"]): r["letters"] for r in got} == expected


def _cli(*args: str, bootstrap: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cxstream.cli", *args], capture_output=True, text=True,
                          env=subprocess_env(CXSTREAM_BOOTSTRAP_SERVERS=bootstrap, **env), cwd=REPO_ROOT,
                          timeout=600)


def _cli_logged(*args: str, bootstrap: str, log_dir: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the CLI with its Flink JVM logging to a folder of its own; return what it logged too.

    Not the shared log under pyflink/: another Flink JVM of this test process may write there.
    """
    log_dir.mkdir()
    done = _cli(*args, bootstrap=bootstrap, FLINK_LOG_DIR=str(log_dir))
    return done, "".join(p.read_text(errors="replace") for p in sorted(log_dir.glob("*.log")))


def test_a_missing_sql_file_is_one_line_and_fails(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "cxstream.cli", "sql", str(tmp_path / "nope.sql")],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode != 0
    assert done.stderr.splitlines()[0] == f"cxstream: error: {tmp_path / 'nope.sql'}: no such SQL file"


@pytest.mark.slow
def test_a_bad_sql_file_is_one_clear_line_and_a_nonzero_exit(bootstrap: str, prefix: str, tmp_path: Path) -> None:
    make_test_profile(bootstrap, prefix)
    bad = tmp_path / "bad.sql"
    bad.write_text("-- a typo on line 3\nSELECT channel,\n       COUNT(*) AS n FROM interactionz GROUP BY channel;\n")
    done = _cli("sql", str(bad), "--bounded", "--topic-prefix", prefix, bootstrap=bootstrap)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines[0] == (f"cxstream: error: {bad}:3: SQL validation failed: Object 'interactionz' not found "
                        "(column 27)"), done.stderr
    assert not any(ln.startswith(("Traceback", "\tat ", "Caused by")) for ln in lines), done.stderr


@pytest.mark.slow
def test_the_prompt_answers_help_tables_and_a_query(bootstrap: str, prefix: str) -> None:
    from cxstream.sample_data import interactions
    from tests.kafka_io import produce_records

    profile = make_test_profile(bootstrap, prefix)
    records = interactions(120, int(time.time() * 1000) - 60_000, step_ms=200, seed=9)
    produce_records(bootstrap, profile, "interaction", records, [r["event_time"] for r in records])
    script = ("help\ntables\nSELECT channel, COUNT(*) AS n\n  FROM interactions GROUP BY channel;\n"
              "SELECT nope FROM interactions;\n"
              # SET and RESET as in Flink's SQL client (executeSql itself refuses them); a malformed SET is one line.
              "SET 'table.local-time-zone' = 'Asia/Tokyo';\nSELECT CAST(TO_TIMESTAMP_LTZ(0, 3) AS STRING) AS tokyo;\n"
              "RESET 'table.local-time-zone';\nSELECT CAST(TO_TIMESTAMP_LTZ(0, 3) AS STRING) AS utc;\n"
              "SET table.local-time-zone;\nquit\n")
    done = subprocess.run([sys.executable, "-m", "cxstream.cli", "sql", "--bounded", "--topic-prefix", prefix],
                          input=script, capture_output=True, text=True,
                          env=subprocess_env(CXSTREAM_BOOTSTRAP_SERVERS=bootstrap), cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Statements end with ';'" in done.stdout  # help
    assert re.search(rf"^signals\s+output\s+{re.escape(prefix)}cx\.signals\s+customer_id", done.stdout, re.M)
    counts = pd.Series([r["channel"] for r in records]).value_counts()
    for channel, n in counts.items():
        assert re.search(rf"^\| {channel}\s+\| {n}\s+\|$", done.stdout, re.M), (channel, n, done.stdout)
    assert f"{len(counts)} row(s)" in done.stdout
    # A bad statement at the prompt is one line, and the prompt carries on to `quit`.
    assert re.search(r"^error: statement 2:1: SQL validation failed: Column 'nope' not found", done.stderr, re.M), \
        done.stderr[-2000:]
    assert re.search(r"^\| 1970-01-01 09:00:00\.000\s+\|$", done.stdout, re.M), done.stdout[-2000:]
    assert re.search(r"^\| 1970-01-01 00:00:00\.000\s+\|$", done.stdout, re.M), done.stdout[-2000:]
    assert re.search(r"^error: statement 7:\d+: SET takes the form SET 'key' = 'value'", done.stderr, re.M), \
        done.stderr[-2000:]


# A bounded result of many collect batches: Flink's collect sink hands the client at most ~2 MB per
# request (CollectSinkOperatorFactory's default batch size) and keeps its last unread rows in the
# job's final result, which the client reads after the job has finished and its MiniCluster has shut
# down. ROWS * PAD is ~6 MB, so the rows cross several batches and the last ~2 MB arrive that way.
ROWS, PAD = 3000, 2000


def _generated(extra_select: str = "", first_statements: str = "") -> str:
    """A bounded query over ids 1..ROWS from Flink's datagen sequence: the expected rows are known."""
    return (f"{first_statements}CREATE TEMPORARY TABLE gen (id BIGINT) WITH ('connector' = 'datagen', "
            f"'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{ROWS}');\n"
            f"SELECT id, REPEAT('x', {PAD}) AS pad{extra_select} FROM gen;\n")


@pytest.mark.slow
def test_a_result_of_many_collect_batches_arrives_whole_and_without_a_loss_warning(
        bootstrap: str, prefix: str, tmp_path: Path) -> None:
    make_test_profile(bootstrap, prefix)
    query = tmp_path / "many.sql"
    query.write_text(_generated())
    done, logged = _cli_logged("sql", str(query), "--bounded", "--mode", "json", "--topic-prefix", prefix,
                               bootstrap=bootstrap, log_dir=tmp_path / "flink-log")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    # Every id of the sequence exactly once, in order (parallelism 1), each with its whole payload.
    assert [r["id"] for r in rows] == list(range(1, ROWS + 1))
    assert all(r["op"] == "+I" and r["pad"] == "x" * PAD for r in rows)
    assert "Job cxstream-sql" in logged and "switched from state RUNNING to FINISHED" in logged, logged[-3000:]
    # Flink's "Some data might be lost" after a complete result is a false alarm (cxstream.flink_logging).
    assert FALSE_ALARM not in logged, logged[logged.find(FALSE_ALARM) - 200:][:3000]


@pytest.mark.slow
def test_a_query_whose_job_fails_midway_is_an_error_not_a_short_result(
        bootstrap: str, prefix: str, tmp_path: Path) -> None:
    """The other half of the false alarm: with it filtered, a result that cannot be whole still fails.

    The job fails at id 2500, after more than one collect batch went to the client, and is not
    restarted: the rows the client has are not the result, so nothing may be printed as if they were.
    """
    make_test_profile(bootstrap, prefix)
    query = tmp_path / "fails.sql"
    query.write_text(_generated(", CAST(CASE WHEN id = 2500 THEN 'boom' ELSE '1' END AS INT) AS v",
                                "SET 'restart-strategy.type' = 'none';\n"))
    done, logged = _cli_logged("sql", str(query), "--bounded", "--topic-prefix", prefix, bootstrap=bootstrap,
                               log_dir=tmp_path / "flink-log")
    assert done.returncode != 0
    assert done.stderr.startswith(f"cxstream: error: {query}:3: For input string: 'boom'"), done.stderr[-2000:]
    assert "row(s)" not in done.stdout, done.stdout[-2000:]
    assert "switched from state FAILING to FAILED" in logged, logged[-3000:]


def _job_ids_in_start_order(logged: str) -> list[str]:
    return re.findall(r"Job cxstream-sql \(([0-9a-f]{32})\) switched from state CREATED to RUNNING", logged)


@pytest.mark.slow
def test_a_live_query_prints_rows_without_waiting_for_checkpoints_even_after_an_insert_that_checkpointed(
        bootstrap: str, prefix: str, tmp_path: Path) -> None:
    """Outside --bounded, Flink's collect client shows a checkpointing job's rows only after each
    checkpoint (10 s bursts); `cxstream sql` runs printed queries without checkpoints and writing
    jobs with them (cxstream.sqlrun). One session runs an INSERT of ~15 s of rows, which must
    checkpoint, then a live query stopped by --max-rows, which must not: the INSERT's interval
    sticks to the session's environment unless it is taken off again. The Flink log says which job
    checkpointed."""
    make_test_profile(bootstrap, prefix)
    (tmp_path / "live.sql").write_text(
        "CREATE TEMPORARY TABLE ticks (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20');\n"
        "CREATE TEMPORARY TABLE some_ticks (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20',"
        " 'number-of-rows' = '300');\n"
        "CREATE TEMPORARY TABLE sunk (id BIGINT) WITH ('connector' = 'blackhole');\n"
        "INSERT INTO sunk SELECT id FROM some_ticks;\n"
        "SELECT id FROM ticks;\n")
    done, logged = _cli_logged("sql", str(tmp_path / "live.sql"), "--max-rows", "5", "--mode", "json",
                               "--topic-prefix", prefix, bootstrap=bootstrap, log_dir=tmp_path / "flink-log")
    assert done.returncode == 0, done.stderr[-2000:]
    insert, query = _job_ids_in_start_order(logged)
    assert re.search(rf"Completed checkpoint \d+ for job {insert}", logged), logged[-3000:]
    assert len([json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]) == 5, \
        done.stdout[-2000:]
    assert not re.search(rf"Triggering checkpoint \d+ .* for job {query}", logged), \
        "the printed query checkpointed: its rows waited for checkpoints"
