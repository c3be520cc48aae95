"""`cxstream sql`: run an analyst's streaming SQL against the suite's catalog.

A file (or the interactive prompt, cxstream.sqlshell) holds statements ending in `;`:

- definitions (CREATE [TEMPORARY] VIEW / TABLE / FUNCTION, SET, USE, ...) run at once;
- EXPLAIN prints the plan;
- SHOW / DESCRIBE print their answer as a table;
- a query (SELECT / WITH / VALUES) prints as a live table (a streaming result changes: an
  aggregate's row is retracted and re-sent as it grows) or, with --into TOPIC, writes JSON records
  to that topic through the profile's connector;
- INSERT INTO runs as a job.

Outside --bounded, a job that writes (INSERT, --into) checkpoints every 10 s: its Kafka sink flushes
on checkpoints. A query whose rows are printed does not checkpoint: Flink's collect client shows a
checkpointed job's rows only once a checkpoint has completed (exactly-once display), so they would
arrive in 10 s bursts and a Ctrl-C would throw away up to 10 s of rows already computed. Without
checkpointing they are shown as they are produced, and a restart of the query's job is an error
rather than a replay (Flink's collect client cannot tell a replayed row from a new one).

A file is checked whole before anything runs (definitions executed, queries planned), so a typo on
line 40 is reported in a second, not after the query on line 3 ran for an hour.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cxstream import broker
from cxstream.livetable import KIND_SHORT, LiveTable, format_value, json_line
from cxstream.sqlfiles import Located, split_located

if TYPE_CHECKING:
    from cxstream.runtime import Pipeline

_QUERY = re.compile(r"^\s*\(?\s*(SELECT|WITH|VALUES)\b", re.I)
_EXPLAIN = re.compile(r"^\s*EXPLAIN\b", re.I)
_INSERT = re.compile(r"^\s*(EXECUTE\s+)?INSERT\b", re.I)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]+$")
# The SQL client's SET / RESET: TableEnvironment.executeSql refuses them ("Unsupported SQL query!").
_SET = re.compile(r"^\s*SET\s+'(?P<key>[^']+)'\s*=\s*'(?P<value>[^']*)'\s*$", re.I)
_RESET = re.compile(r"^\s*RESET\s+'(?P<key>[^']+)'\s*$", re.I)
_SET_OR_RESET = re.compile(r"^\s*(SET|RESET)\b", re.I)

CHECKPOINT_INTERVAL = "execution.checkpointing.interval"
WRITE_CHECKPOINT_INTERVAL = "10 s"  # for INSERT and --into jobs outside --bounded (module docstring)


class SqlError(RuntimeError):
    """A statement Flink refused, as one line: where it is and what Flink said."""


def flink_message(exc: BaseException) -> str:
    """The useful sentence of a Flink/Calcite error, without class names and stack frames."""
    text = str(exc)
    # Py4J: "An error occurred while calling o75.explainSql.\n: org.apache...Exception: message".
    lines = [ln.strip().lstrip(": ").strip() for ln in text.splitlines()]
    candidates = [ln for ln in lines if ln and not ln.startswith(
        ("at ", "...", "Traceback", "File ", "An error occurred while calling", "Caused by"))]
    msg = candidates[0] if candidates else type(exc).__name__
    msg = re.sub(r"^((org|java|py4j|pyflink)\.[\w.$]+):\s*", "", msg)
    # Calcite's parser appends the whole grammar it expected ("Was expecting one of: ..."): cut it.
    msg = msg.split(" Was expecting")[0].split("Was expecting one of")[0]
    if len(msg) < 30:  # a bare wrapper message: the deepest cause says more
        causes = re.findall(r"Caused by: [\w.$]+: ([^\n]+)", text)
        if causes:
            msg = causes[-1]
    return msg.strip()[:400]


_POSITION = re.compile(r"\s*[Ff]rom line (\d+), column (\d+) to line \d+, column \d+:\s*"
                       r"|\s*at line (\d+), column (\d+)\.?\s*")


def located_error(source: str, stmt: Located, exc: BaseException) -> SqlError:
    """`FILE:LINE: message (column C)`, the line counted in the file (Calcite counts per statement)."""
    msg = flink_message(exc)
    m = _POSITION.search(msg)
    if not m:
        return SqlError(f"{source}:{stmt.line}: {msg}")
    rel_line, column = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    msg = (msg[: m.start()] + (": " if m.group(1) else " ") + msg[m.end():]).strip(" :.")
    msg = msg.replace(".:", ":")
    return SqlError(f"{source}:{stmt.line + int(rel_line) - 1}: {msg} (column {column})")


def statement_kind(text: str) -> str:
    if _EXPLAIN.match(text):
        return "explain"
    if _QUERY.match(text):
        return "query"
    if _INSERT.match(text):
        return "insert"
    if re.match(r"^\s*(SHOW|DESCRIBE|DESC)\b", text, re.I):
        return "show"
    if _SET_OR_RESET.match(text):
        return "set"
    return "ddl"


@dataclass
class QueryOptions:
    max_rows: int | None = None  # stop after this many result changes
    mode: str = "table"  # table | changelog | json
    into: str | None = None  # write to this topic instead of printing
    key: tuple[str, ...] = ()  # with --into: upsert keyed by these columns
    refresh_s: float = 1.0


def _row_values(row: Any) -> tuple[Any, ...]:
    return tuple(row[i] for i in range(len(row)))


def _kind(row: Any) -> str:
    return row.get_row_kind().name


class Display:
    """Shows a query's changes: a redrawn table on a terminal, else changes or the final table."""

    def __init__(self, columns: list[str], mode: str, out: TextIO) -> None:
        self.table = LiveTable(columns)
        self.mode = mode
        self.out = out
        self.live = mode == "table" and out.isatty()
        self._last_draw = 0.0

    def change(self, kind: str, values: tuple[Any, ...], refresh_s: float) -> None:
        self.table.apply(kind, values)
        if self.mode == "json":
            print(json_line(self.table.columns, values, kind), file=self.out, flush=True)
        elif self.mode == "changelog":
            cells = " | ".join(format_value(v) for v in values)
            print(f"{KIND_SHORT.get(kind, kind)} | {cells}", file=self.out, flush=True)
        elif self.live and time.monotonic() - self._last_draw >= refresh_s:
            self.draw()

    def draw(self, final: bool = False) -> None:
        import shutil

        height = shutil.get_terminal_size((120, 40)).lines
        text = self.table.render(limit=None if final else max(5, height - 6))
        if self.live and not final:
            self.out.write("\x1b[H\x1b[2J" + text + "\n(Ctrl-C stops the query)\n")
        else:
            self.out.write(text + "\n")
        self.out.flush()
        self._last_draw = time.monotonic()

    def finish(self) -> None:
        if self.mode == "table":
            self.draw(final=True)


def _collectable(pipeline: Pipeline, sql: str) -> Any:
    """The query as a Table whose rows PyFlink can hand to Python.

    PyFlink 2.3 cannot pickle java.time.Instant, the Java value of TIMESTAMP_LTZ (measured:
    "PickleException: couldn't introspect javabean"), and every event time here is one; so those
    columns are cast to TIMESTAMP(3), which in the session zone (UTC) is the same instant.
    """
    t_env = pipeline.t_env
    table = t_env.sql_query(sql)
    columns = table._j_table.getResolvedSchema().getColumns()
    names, casts = [], []
    for i in range(columns.size()):
        column = columns.get(i)
        names.append(column.getName())
        casts.append(column.getDataType().getLogicalType().getTypeRoot().name() == "TIMESTAMP_WITH_LOCAL_TIME_ZONE")
    if not any(casts):
        return table
    view = f"cx_query_{uuid.uuid4().hex[:8]}"
    t_env.create_temporary_view(view, table)
    select = ", ".join(f"CAST(`{n}` AS TIMESTAMP(3)) AS `{n}`" if cast else f"`{n}`"
                       for n, cast in zip(names, casts, strict=True))
    return t_env.sql_query(f"SELECT {select} FROM `{view}`")


def run_query(pipeline: Pipeline, sql: str, opts: QueryOptions, out: TextIO = sys.stdout,
              on_start: Callable[[str], None] | None = None) -> LiveTable:
    """Run a SELECT; return the result table as it stood when the query ended or was stopped."""
    result = _collectable(pipeline, sql).execute()
    columns = list(result.get_resolved_schema().get_column_names())
    client = result.get_job_client()
    if on_start and client is not None:
        on_start(str(client.get_job_id()))
    display = Display(columns, opts.mode, out)
    ran_dry = False
    try:
        with result.collect() as rows:
            for row in rows:
                display.change(_kind(row), _row_values(row), opts.refresh_s)
                if opts.max_rows is not None and display.table.changes >= opts.max_rows:
                    break
            else:
                # The iterator ends only once the job has finished and the rows its sink still held
                # were read from the job's final result; a job that failed raises instead.
                ran_dry = True
    except KeyboardInterrupt:
        pass
    finally:
        # Stopped early (--max-rows, Ctrl-C, an error): the job may still run. Closing the iterator
        # cancels it only if Flink could tell it was running, so cancel it here too. A job whose
        # rows ran dry has finished and its MiniCluster is gone: there is nothing to cancel.
        if client is not None and not ran_dry:
            try:
                client.cancel().result()
            except Exception:  # noqa: BLE001 - a job that has ended cannot be cancelled; that is fine
                pass
    display.finish()
    return display.table


def into_statement(pipeline: Pipeline, sql: str, topic: str, key: tuple[str, ...]) -> str:
    """CREATE TABLE ... AS SELECT writing the query's rows to `topic` as JSON."""
    if not _TOPIC.match(topic):
        raise SqlError(f"--into: {topic!r} is not a topic name (letters, digits, '.', '_', '-')")
    from cxstream.topics import TopicSpec, ensure_topics

    profile = pipeline.profile
    ensure_topics(profile.bootstrap_servers, [TopicSpec(profile.topic(topic), profile.partitions)])
    table = "into_" + re.sub(r"\W", "_", topic)
    pk = f" (PRIMARY KEY ({', '.join(f'`{k}`' for k in key)}) NOT ENFORCED)" if key else ""
    return f"CREATE TABLE `{table}`{pk}\n{pipeline.renderer.json_sink_with(topic, bool(key))}\nAS {sql}"


def _collect_rows(result: Any) -> LiveTable:
    table = LiveTable(list(result.get_resolved_schema().get_column_names()))
    with result.collect() as rows:
        for row in rows:
            table.apply(_kind(row), _row_values(row))
    return table


class Session:
    """One analyst session: a catalog and the statements run in it."""

    def __init__(self, pipeline: Pipeline, opts: QueryOptions, out: TextIO = sys.stdout,
                 write_checkpoint_interval: str | None = None) -> None:
        self.pipeline = pipeline
        self.opts = opts
        self.out = out
        self.t_env = pipeline.t_env
        self._initial: dict[str, str | None] = {}  # option -> its value before the first SET
        # Checkpointing for the jobs that write (module docstring); printed queries run without it.
        self.write_checkpoint_interval = write_checkpoint_interval

    @contextmanager
    def _checkpointed_writes(self) -> Iterator[None]:
        """The writing job submitted inside this block checkpoints every write_checkpoint_interval.

        The option is set on the table config for the submission and removed after it. Submission
        also copies it into the environment's own configuration, where it stays: the next printed
        query takes it off there (_printed_without_checkpoints). An interval the analyst SET is
        theirs and left alone.
        """
        conf = self.t_env.get_config().get_configuration()
        if self.write_checkpoint_interval is None or conf.contains_key(CHECKPOINT_INTERVAL):
            yield
            return
        conf.set_string(CHECKPOINT_INTERVAL, self.write_checkpoint_interval)
        try:
            yield
        finally:
            conf.remove_config(CHECKPOINT_INTERVAL)

    def _printed_without_checkpoints(self) -> None:
        """Before a printed query: no checkpointing, unless the analyst SET an interval.

        Removing the option from the table config is not enough once a job has been submitted with
        it: submission copies the table config into the environment's own configuration, adding and
        never removing (StreamExecutionEnvironment.configure), so after an INSERT, or an analyst's SET
        then RESET, the interval would stay on the environment and the bursts would come back.
        """
        if not self.t_env.get_config().get_configuration().contains_key(CHECKPOINT_INTERVAL):
            self.t_env._j_tenv.execEnv().getCheckpointConfig().disableCheckpointing()

    def check(self, source: str, stmt: Located) -> None:
        """Plan a query or an INSERT without running it; run a definition (later statements need it)."""
        kind = statement_kind(stmt.text)
        try:
            if kind in ("query", "insert"):
                self.t_env.explain_sql(stmt.text)
            elif kind == "explain":
                self.t_env.explain_sql(re.sub(r"^\s*EXPLAIN\s+(PLAN\s+FOR\s+)?", "", stmt.text, flags=re.I))
            elif kind == "ddl":
                with self._checkpointed_writes():  # CREATE TABLE ... AS SELECT starts a writing job
                    self.t_env.execute_sql(stmt.text)
            elif kind == "set" and not (_SET.match(stmt.text) or _RESET.match(stmt.text)):
                raise ValueError("SET takes the form SET 'key' = 'value', RESET the form RESET 'key'")
        except Exception as exc:  # noqa: BLE001 - every Flink refusal becomes one located line
            raise located_error(source, stmt, exc) from exc

    def _set(self, text: str) -> None:
        """SET 'key' = 'value' / RESET 'key', as in Flink's SQL client: an option for what runs next.

        Applied when the file reaches it, not when the file is checked, so a query between two SETs
        of one option runs with the first. RESET puts back the value the session started with (the
        profile's), not Flink's default.
        """
        config = self.t_env.get_config()
        if m := _SET.match(text):
            self._initial.setdefault(m["key"], config.get_configuration().get_string(m["key"], None))
            config.set(m["key"], m["value"])
        elif m := _RESET.match(text):
            if m["key"] in self._initial:
                initial = self._initial.pop(m["key"])
                if initial is None:
                    config.get_configuration().remove_config(m["key"])
                else:
                    config.set(m["key"], initial)

    def run(self, source: str, stmt: Located, ddl_done: bool = False) -> LiveTable | None:
        """Run one statement; a query's final table is returned."""
        kind = statement_kind(stmt.text)
        try:
            if kind == "ddl":
                if not ddl_done:
                    with self._checkpointed_writes():  # CREATE TABLE ... AS SELECT starts a writing job
                        self.t_env.execute_sql(stmt.text)
                return None
            if kind == "set":
                if not ddl_done:
                    self.check(source, stmt)
                self._set(stmt.text)
                return None
            if kind == "explain":
                table = _collect_rows(self.t_env.execute_sql(stmt.text))
                for row in table.rows:
                    print(row[0], file=self.out)
                return None
            if kind == "show":
                table = _collect_rows(self.t_env.execute_sql(stmt.text))
                print(table.render(), file=self.out)
                return table
            if kind == "insert" or (kind == "query" and self.opts.into):
                sql = stmt.text if kind == "insert" else into_statement(
                    self.pipeline, stmt.text, self.opts.into or "", self.opts.key)
                with self._checkpointed_writes():
                    result = self.t_env.execute_sql(sql)
                client = result.get_job_client()
                target = f"topic {self.opts.into}" if kind == "query" else "its sink"
                print(f"[cxstream] job {client.get_job_id()} writing to {target}", file=sys.stderr)
                try:
                    result.wait()
                except KeyboardInterrupt:
                    client.cancel().result()
                return None
            self._printed_without_checkpoints()
            return run_query(self.pipeline, stmt.text, self.opts, self.out)
        except SqlError:
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - every Flink refusal becomes one located line
            raise located_error(source, stmt, exc) from exc

    def run_text(self, source: str, text: str) -> list[LiveTable]:
        """Check every statement of a file, then run them in order."""
        statements = split_located(text)
        if not statements:
            raise SqlError(f"{source}: no SQL statements in it")
        for stmt in statements:
            self.check(source, stmt)
        return [t for stmt in statements if (t := self.run(source, stmt, ddl_done=True)) is not None]


# ---- command line -------------------------------------------------------------------------------

def add_sql_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", help="a .sql file (statements end with ';'); without it, an interactive prompt")
    p.add_argument("--bootstrap-servers", help=f"Kafka bootstrap servers (default: ${broker.ENV_BOOTSTRAP}, "
                   "else the local broker)")
    p.add_argument("--profile", choices=("local", "cluster"), default="local")
    p.add_argument("--format", choices=("avro", "json"), default=None, help="wire format of the suite's topics")
    p.add_argument("--topic-prefix", default=None)
    p.add_argument("--bounded", action="store_true",
                   help="read what the topics hold now and stop (queries end with a final table)")
    p.add_argument("--from", dest="startup_mode", choices=("earliest-offset", "latest-offset"),
                   default="earliest-offset", help="where the tables start reading (default: earliest-offset)")
    p.add_argument("--max-rows", type=int, default=None, metavar="N",
                   help="stop a query after N result rows (changes) arrived")
    p.add_argument("--mode", choices=("table", "changelog", "json"), default="table",
                   help="table: the result as it stands (redrawn on a terminal); changelog: every change "
                        "(+I/-U/+U/-D); json: every change as a JSON object per line")
    p.add_argument("--into", metavar="TOPIC", help="write the queries' rows to TOPIC as JSON instead of printing")
    p.add_argument("--key", default="", help="with --into: upsert keyed by these comma-separated columns")
    p.add_argument("--parallelism", type=int, default=1)


def open_session(args: argparse.Namespace) -> Session:
    from cxstream.catalog import build_catalog
    from cxstream.profiles import make_profile
    from cxstream.runtime import RunOptions

    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers, start_local=args.profile == "local")
    profile = make_profile(args.profile, bootstrap, args.format, args.topic_prefix)
    # No checkpoint interval for the environment: Session sets one for the jobs that write.
    opts = RunOptions(startup_mode=args.startup_mode, bounded=args.bounded, parallelism=args.parallelism,
                      checkpoint_interval=None, group_id="cxstream-sql")
    pipeline = build_catalog(profile, opts)
    key = tuple(k.strip() for k in args.key.split(",") if k.strip())
    return Session(pipeline, QueryOptions(max_rows=args.max_rows, mode=args.mode, into=args.into, key=key),
                   write_checkpoint_interval=None if args.bounded else WRITE_CHECKPOINT_INTERVAL)


def main(args: argparse.Namespace) -> int:
    if args.file is None:
        from cxstream.sqlshell import interactive

        return interactive(args)
    path = Path(args.file)
    if not path.is_file():
        raise SqlError(f"{path}: no such SQL file")
    text = path.read_text()
    if not split_located(text):  # before starting Flink: an empty file is a mistake, say so fast
        raise SqlError(f"{path}: no SQL statements in it")
    session = open_session(args)
    session.run_text(str(path), text)
    return 0
