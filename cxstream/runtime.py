"""Assemble and run cxstream jobs on Flink.

A job is declared in jobs/<name>.py as a JobSpec: the contracts it reads and writes, its SQL files
and its UDF modules. This module turns one or more specs into one Flink pipeline:

  <input>_raw      the Kafka source table (from ddl.TableRenderer)
  <input>_checked  the same rows plus dlq_reason, the first broken contract rule or NULL
  <input>          the valid rows, which is what sql/ reads
  dlq              where invalid rows go, with their reason, via a generated INSERT
  <output>         the sink tables that sql/ writes

Several specs can share one Flink job (``cxstream run`` does, so the suite reads each input once);
on a cluster each job is submitted on its own.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cxstream import contracts, sqlfiles, validation
from cxstream.ddl import SourceOptions, TableRenderer
from cxstream.paths import JOBS_DIR, REPO_ROOT, site_packages, sub_dir
from cxstream.profiles import Profile

if TYPE_CHECKING:
    from pyflink.datastream import DataStream, KeyedStream
    from pyflink.table import StatementSet, StreamTableEnvironment, TableResult


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    sql_files: tuple[str, ...]
    udf_modules: tuple[str, ...] = ()  # modules in udfs/, each with register(t_env)
    # Append-only sinks that reuse a contract's shape on another topic: (contract, table, topic).
    copy_sinks: tuple[tuple[str, str, str], ...] = ()
    # Values for ${placeholders} in sql_files: each templated statement runs once per entry. Every
    # entry also has the profile's values (profile_sql_variables), e.g. ${watermark_delay_seconds}.
    sql_instances: tuple[dict[str, str], ...] = ()
    # Modules in udfs/ with build(pipeline): DataStream stages (keyed state, timers) that read
    # tables with pipeline.t_env.to_data_stream and register their results as views for sql_files.
    stream_modules: tuple[str, ...] = ()
    # SQL files that run before stream_modules: the views a stream stage reads (the decisions' event
    # stream, the alert evaluations the deduplication stage keys by kind and subject); sql_files run
    # after. Same ${placeholders} as sql_files.
    sql_before_stream: tuple[str, ...] = ()
    # (view, new view, column): `view` comes out of a regular join, which keeps no time attribute, and a
    # later statement needs it in event time again. Right after the statement that creates `view`,
    # `new view` is registered: the same rows, with `column` (TIMESTAMP_LTZ(3)) as the event-time
    # attribute and the watermarks that flow out of `view` passed on unchanged (SOURCE_WATERMARK()).
    # The round trip goes through a DataStream in Java only: no Python on the path.
    event_time_views: tuple[tuple[str, str, str], ...] = ()
    # Where a pipeline with shared sources (Pipeline._shared) hands this job its inputs: in the
    # sources' own tasks (True: no network hop, for a per-event latency target) or one hop away
    # (False), so that a Python operator of this job that waits on its worker cannot hold up the
    # sources every other job reads.
    reads_at_source: bool = False


@dataclass
class RunOptions:
    startup_mode: str = "earliest-offset"
    startup_timestamp_ms: int | None = None
    bounded: bool = False
    parallelism: int = 1
    checkpoint_interval: str | None = "10 s"
    restore_from: str | None = None  # savepoint or retained checkpoint path
    group_id: str | None = None
    extra_config: dict[str, str] = field(default_factory=dict)
    # Submitted to a standing cluster: leave CLUSTER_OWNED_KEYS to the cluster's own configuration.
    cluster_managed: bool = False


# What a standing cluster's configuration decides, not the job: where checkpoints go (a path on the
# client machine means nothing to a remote JobManager), which state backend and Python interpreter
# the TaskManagers use, and how much memory they have.
CLUSTER_OWNED_KEYS = ("python.executable", "python.client.executable", "python.pythonpath", "state.backend.type",
                      "execution.checkpointing.dir", "taskmanager.memory.process.size")


def load_spec(name: str) -> JobSpec:
    """The JobSpec declared in jobs/<name>.py."""
    path = JOBS_DIR / f"{name}.py"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in JOBS_DIR.glob("*.py") if not p.stem.startswith("_")))
        raise KeyError(f"no job {name!r} in {JOBS_DIR} (known: {known})")
    module_spec = importlib.util.spec_from_file_location(f"cxstream_jobs.{name}", path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.SPEC


def suite_job_names() -> list[str]:
    """Jobs that make up the suite, in pipeline order (jobs/ files whose SPEC sets suite=...)."""
    order = ["signals", "sentiment", "drift", "quality", "decisions", "alerts"]
    return [n for n in order if (JOBS_DIR / f"{n}.py").exists()]


def flink_config(profile: Profile, opts: RunOptions, pipeline_name: str) -> dict[str, str]:
    """Flink configuration for a job. Kept as data so it is visible in tests and `--explain`."""
    from cxstream.jars import ensure_jars

    conf = {
        "pipeline.name": pipeline_name,
        "parallelism.default": str(opts.parallelism),
        # Window boundaries are computed in the session time zone; UTC keeps them unambiguous.
        "table.local-time-zone": "UTC",
        # A partition with no traffic must not hold back the event-time clock of the others. Not in
        # a bounded run: every partition has a backlog there, and one that is merely read later
        # than the others (a busy machine) would be declared idle and its records made late.
        # 30 s, not less: idleness is measured in processing time, and under backpressure (the
        # whole suite with its Python stages on 2 cores) a reader serving one partition's batch
        # leaves the others silent for seconds. With 5 s, a live `cxstream run` sent ~14 % of
        # the messages to the DLQ as late; with 30 s, none (measured, 200 events/s, 110 s).
        "table.exec.source.idle-timeout": "0 ms" if opts.bounded else "30 s",
        # Every suite query writes an upsert sink grouped by exactly the sink's key (window TVF
        # aggregates are insert-only with one row per key), so Flink's upsert materializer, which
        # keeps every row's history in state, would only cost memory and latency.
        "table.exec.sink.upsert-materialize": "NONE",
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        # The interpreter that THREAD-mode stages (python_thread_mode) embed in the JVM needs the
        # venv's packages named: it starts from the base installation.
        "python.pythonpath": site_packages(),
        "python.fn-execution.bundle.time": "50",
        # A network buffer is shipped when full or after this long: Flink's default. The decisions'
        # path (udfs/decisions_stage.py) ships every 10 ms instead, through flush_upstream_every.
        # Everything else waits for a window to close 5 s after its end and can afford 100 ms.
        "execution.buffer-timeout.interval": "100 ms",
        # Keyed state of Python DataStream functions (the decisions job's per-customer context) is
        # cached in the Python worker; a miss is a round trip to the JVM per record. The default
        # (1000 keys) is far below the number of active customers.
        "python.state.cache-size": "20000",
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": "20",
        "restart-strategy.fixed-delay.delay": "2 s",
        "state.backend.type": "hashmap",
        "execution.checkpointing.dir": (sub_dir("checkpoints") / pipeline_name).as_uri(),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "taskmanager.memory.process.size": "2g",
    }
    if profile.name == "local":
        from cxstream.broker import free_port
        from cxstream.metrics import prometheus_jar, reporter_config

        # The embedded MiniCluster ignores plugins/, so the reporter jar rides on pipeline.jars.
        conf["pipeline.jars"] = ensure_jars().urls() + ";" + prometheus_jar().as_uri()
        conf.update(reporter_config(free_port()))
    if opts.checkpoint_interval:
        conf["execution.checkpointing.interval"] = opts.checkpoint_interval
    if opts.restore_from:
        conf["execution.state-recovery.path"] = opts.restore_from
    conf["python.files"] = str(REPO_ROOT / "udfs")
    if opts.cluster_managed:
        for key in CLUSTER_OWNED_KEYS:
            conf.pop(key, None)
    conf.update(opts.extra_config)
    return conf


def create_table_env(conf: dict[str, str]) -> StreamTableEnvironment:
    """A streaming table environment on a DataStream environment with `conf` applied to both.

    A StreamTableEnvironment rather than a plain TableEnvironment so that a job can hand a table to
    a DataStream function with keyed state (t_env.to_data_stream) and back (from_data_stream) in
    the same pipeline; the decisions job needs that for per-customer context.
    """
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    from cxstream.errors import require_java
    from cxstream.flink_logging import configure_before_gateway

    require_java()  # one clear line instead of PyFlink's "Java gateway process exited ..."
    configure_before_gateway()  # before PyFlink starts its JVM, which reads it once
    configuration = Configuration()
    for key, value in conf.items():
        configuration.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(configuration)
    t_env = StreamTableEnvironment.create(env, EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    for key, value in conf.items():
        config.set(key, value)
    return t_env


# A validate-stage dead letter keeps at most this many characters of each field: one huge string
# would otherwise make the letter larger than the broker accepts. The source topic, partition and
# offset in the letter point at the full record.
DLQ_FIELD_CHARS = 4096


def _dlq_field_sql(name: str) -> str:
    text = f"CAST(`{name}` AS STRING)"
    return (f"CASE WHEN CHAR_LENGTH({text}) > {DLQ_FIELD_CHARS} "
            f"THEN CONCAT(SUBSTRING({text}, 1, {DLQ_FIELD_CHARS}), '...[truncated]') ELSE {text} END")


def _dlq_route_sql(contract: contracts.Contract, job: str, checked_view: str) -> str:
    """INSERT that sends rows breaking the contract to the DLQ with their reason."""
    payload_fields = [f for f in contract.fields if not isinstance(f.base_type, dict)
                      or f.base_type.get("logicalType")]
    pairs = ", ".join(f"KEY '{f.name}' VALUE {_dlq_field_sql(f.name)}" for f in payload_fields)
    return (
        f"INSERT INTO `dlq`\n"
        f"SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, dlq_reason,\n"
        f"       CASE WHEN dlq_reason LIKE '{validation.LATE_PREFIX}%' THEN 'late' ELSE 'validate' END,\n"
        f"       '{job}', JSON_OBJECT({pairs}), CURRENT_TIMESTAMP\n"
        f"FROM `{checked_view}` WHERE dlq_reason IS NOT NULL"
    )


def import_udf_module(module_name: str):  # noqa: ANN201 - a module
    """A module of udfs/, imported in this process (udfs/ is a directory of modules, not a package)."""
    udfs_dir = str(REPO_ROOT / "udfs")
    if udfs_dir not in sys.path:
        sys.path.insert(0, udfs_dir)
    return importlib.import_module(module_name)


def python_workers_run_here(t_env: StreamTableEnvironment) -> bool:
    """Whether the job's Python UDFs will run in this very process.

    On the embedded MiniCluster PyFlink runs its Python workers in loopback mode: as threads of the
    client process that submitted the job (the `cxstream run` or bench process), not as processes
    of their own. A udfs/ module's first call would then pay its imports while holding the GIL and
    its operator; importing them here, before the first record, is the same import the worker
    would do. The rule is PyFlink's own (TableEnvironment._open): loopback unless the environment
    variable _python_worker_execution_mode says 'process', and only for a local deployment.
    """
    from pyflink.util.java_utils import get_j_env_configuration, is_local_deployment

    if os.environ.get("_python_worker_execution_mode", "loopback") != "loopback":
        return False
    return bool(is_local_deployment(get_j_env_configuration(t_env._get_j_env())))


def profile_sql_variables(profile: Profile) -> dict[str, str]:
    """${placeholders} every job's SQL files can use, from the profile the job runs with.

    watermark_delay_seconds: the out-of-orderness every source's watermark allows (cxstream/ddl.py),
    the same for every job of a profile; the alerts job needs the decisions job's (sql/alerts.sql).
    """
    return {"watermark_delay_seconds": str(profile.watermark_delay_s)}


def input_table(contract: contracts.Contract) -> str:
    """The table name sql/ reads a contract under when a job consumes it.

    An output contract read back as an input (the alerts job reads cx.drift, cx.dlq...) gets an
    `_in` suffix: in a suite pipeline the same name is already the sink another job writes, and a
    sink table has neither the watermark nor the contract checks of a source.
    """
    return f"{contract.table}_in" if contract.name in contracts.OUTPUTS else contract.table


# fetch.max.wait.ms of the sources that read a job's output back (the alerts job reads cx.dlq,
# cx.drift, cx.sentiment and cx.nba.triggers), instead of the connector's 20 ms. Those topics are
# quiet most of the time, and the local broker (Tansu 0.6) answers an empty fetch only when its
# wait is over: at 20 ms each such consumer costs 50 round trips a second. Measured with the whole
# suite running and no traffic (README, "Performance"): the broker used 0.24-0.30 cores with every
# source at 20 ms and 0.04-0.05 at 500 ms. Their readers evaluate minute windows that close 5 s
# after their end, so half a second is nothing to them.
OUTPUT_READ_BACK_FETCH_WAIT_MS = 500


class Pipeline:
    """Tables, views and INSERTs of one Flink job, built from one or more JobSpecs."""

    def __init__(self, t_env: StreamTableEnvironment, profile: Profile, opts: RunOptions, job_name: str) -> None:
        self.t_env = t_env
        self.profile = profile
        self.opts = opts
        self.job_name = job_name
        self.renderer = TableRenderer(profile)
        self.statements: StatementSet = t_env.create_statement_set()
        self.inserts: list[str] = []
        self._tables: set[str] = set()
        self._udf_modules: set[str] = set()
        # Read each input through one DataStream (see _shared): set when a job has stream stages.
        self.share_sources = False
        # Whether jobs without reads_at_source read the shared inputs one hop away (see _shared):
        # set when such a job shares the pipeline with one that reads at the source.
        self.hop_for_others = False
        # Inputs read through a hop: table -> (its column list, the view in the sources' task, the
        # one a hop away), and the shared streams themselves.
        self._shared_inputs: dict[str, tuple[str, str, str]] = {}
        self._shared_streams: list[DataStream] = []
        # Where this pipeline's sources send undecodable records (the analysts' catalog uses its own).
        self.source_dlq_topic = "cx.dlq"

    def _execute_ddl(self, sql: str) -> None:
        self.t_env.execute_sql(sql)

    def add_input(self, contract_name: str, route_dlq: bool = True) -> None:
        """Source, checked and valid views of an input. ``route_dlq=False`` (the analysts' catalog)
        leaves routing bad rows to the jobs and only filters them out of the valid view."""
        c = contracts.as_input(contracts.load(contract_name))
        table = input_table(c)
        if table in self._tables:
            return
        if route_dlq:
            self._ensure_dlq()
        raw, checked = f"{table}_raw", f"{table}_checked"
        source = SourceOptions(
            job_name=self.job_name,
            group_id=self.opts.group_id or f"cxstream-{self.job_name}",
            startup_mode=self.opts.startup_mode,
            startup_timestamp_ms=self.opts.startup_timestamp_ms,
            bounded=self.opts.bounded,
            dlq_topic=self.source_dlq_topic,
            fetch_max_wait_ms=OUTPUT_READ_BACK_FETCH_WAIT_MS if contract_name in contracts.OUTPUTS else None,
        )
        self._execute_ddl(self.renderer.source(c, raw, source))
        reason = validation.sql_reason(c)
        late = validation.sql_late_reason(c)
        if late:  # contract violations first: an absurd event time is a bug, not lateness
            reason = f"COALESCE({reason},\n  {late})"
        self._execute_ddl(
            f"CREATE TEMPORARY VIEW `{checked}` AS\nSELECT *, {reason} AS dlq_reason\nFROM `{raw}`"
        )
        cols = ", ".join(f"`{f.name}`" for f in c.fields)
        if self.share_sources:
            checked, apart = self._shared(checked, c)
            cols = ", ".join(f"`rowtime` AS `{f.name}`" if f.name == c.event_time else f"`{f.name}`"
                             for f in c.fields)
            if apart is not None:
                self._shared_inputs[table] = (cols, checked, apart)
            self._create_valid_view(table, cols, apart or checked)
        else:
            self._create_valid_view(table, cols, checked)
        if route_dlq:
            self._add_insert(_dlq_route_sql(c, self.job_name, checked))
        self._tables.add(table)

    def add_output_source(self, contract_name: str) -> None:
        """An output contract's topic as a readable table under the contract's table name.

        Every version of a row the jobs wrote is a row here (the topics are upsert logs written at
        least once); the watermark follows the contract's event time like an input's does.
        """
        c = contracts.load(contract_name)
        if c.table in self._tables:
            return
        source = SourceOptions(job_name=self.job_name, group_id=self.opts.group_id or f"cxstream-{self.job_name}",
                               startup_mode=self.opts.startup_mode,
                               startup_timestamp_ms=self.opts.startup_timestamp_ms, bounded=self.opts.bounded,
                               dlq_topic=self.source_dlq_topic)
        self._execute_ddl(self.renderer.source(c, c.table, source))
        self._tables.add(c.table)

    def _create_valid_view(self, table: str, cols: str, checked: str) -> None:
        self._execute_ddl(
            f"CREATE TEMPORARY VIEW `{table}` AS\nSELECT {cols}, kafka_timestamp\n"
            f"FROM `{checked}` WHERE dlq_reason IS NULL"
        )

    def _shared(self, checked: str, contract: contracts.Contract) -> tuple[str, str | None]:
        """The checked view as one DataStream, registered back as a view read in the source's own
        task and, with hop_for_others, as one read a network hop away. Returns both names (None for
        the second without a hop).

        A table handed to a DataStream stage (to_data_stream) is translated on its own, with its own
        Kafka source: a job with a stream stage would read every input twice (and write every
        undecodable record to the DLQ twice). Converting each input once, here, and building the
        valid view and the DLQ route on that one stream gives every reader the same source. The
        event time travels as the stream's timestamp and watermarks (the `rowtime` column).

        Why the hop: every reader's first operators are chained into the source's task, and a
        Python operator among them (the sentiment and drift jobs' VADER UDF) holds that task at
        every bundle while its worker answers, and with it every other job's reading. Across the
        hop (a pointwise exchange: `rescale`; at equal parallelism one to one, order kept) they run
        in a task of their own, and the hop's network buffers absorb their waits (a longer stall
        still reaches the source once the buffers are full). JobSpec.reads_at_source picks the view.
        """
        from pyflink.datastream import DataStream

        if not contract.event_time:
            raise ValueError(f"{contract.name}: a shared source needs an event-time field")
        shared, apart = f"{checked}_shared", f"{checked}_apart"
        stream = self.t_env.to_data_stream(self.t_env.from_path(checked))
        register_stream_view(self.t_env, stream, shared)
        if not self.hop_for_others:
            return shared, None
        register_stream_view(self.t_env, DataStream(stream._j_data_stream.rescale()), apart)
        self._shared_streams.append(stream)
        return shared, apart

    @contextlib.contextmanager
    def _inputs_read_at_source(self) -> Iterator[None]:
        """While inside, each shared input's valid view reads the stream in its source's task.

        The SQL files and stream stages of a job with reads_at_source run here. They keep reading
        the same table names (`interactions`, ...): a statement binds a view when it is added (an
        INSERT to the statement set, a view to the query that uses it), so re-pointing the names
        for the time one job is added gives that job the direct path and leaves the others' alone.
        """
        try:
            for table, (cols, at_source, _) in self._shared_inputs.items():
                self._execute_ddl(f"DROP TEMPORARY VIEW `{table}`")
                self._create_valid_view(table, cols, at_source)
            yield
        finally:
            for table, (cols, _, apart) in self._shared_inputs.items():
                self._execute_ddl(f"DROP TEMPORARY VIEW IF EXISTS `{table}`")
                self._create_valid_view(table, cols, apart)

    def _hops_at_default_buffer_timeout(self) -> None:
        """A latency-critical stage flushes everything upstream of it often (flush_upstream_every),
        the shared streams too; their only network edges are the hops to the other jobs, which keep
        the job's default. (With operator chaining off, the edge from a shared stream into the
        stage's own path would be a network edge too, and would then ship at the default.)"""
        for stream in self._shared_streams:
            stream._j_data_stream.getTransformation().setBufferTimeout(-1)

    def _ensure_dlq(self) -> None:
        dlq = contracts.load("dlq_record")
        if dlq.table not in self._tables:
            self._execute_ddl(self.renderer.sink(dlq, dlq.table))
            self._tables.add(dlq.table)

    def add_output(self, contract_name: str) -> None:
        c = contracts.load(contract_name)
        if c.table not in self._tables:
            self._execute_ddl(self.renderer.sink(c, c.table))
            self._tables.add(c.table)

    def add_udfs(self, module_name: str) -> None:
        if module_name in self._udf_modules:
            return
        import_udf_module(module_name).register(self.t_env)
        self._udf_modules.add(module_name)

    def _add_insert(self, sql: str) -> None:
        self.statements.add_insert_sql(sql)
        self.inserts.append(sql)

    def add_sql_file(self, name: str, instances: tuple[dict[str, str], ...] = (),
                     event_time_views: tuple[tuple[str, str, str], ...] = ()) -> None:
        retime = {view: (new_view, column) for view, new_view, column in event_time_views}
        common = profile_sql_variables(self.profile)
        instances = tuple({**common, **i} for i in instances) or (common,)
        for statement in sqlfiles.load(name, instances=instances):
            if sqlfiles.is_insert(statement):
                self._add_insert(statement)
                continue
            self._execute_ddl(statement)
            created = _CREATED_VIEW.match(statement)
            if created and created.group(1) in retime:
                self.add_event_time_view(created.group(1), *retime[created.group(1)])

    def add_event_time_view(self, view: str, new_view: str, column: str) -> None:
        """`new_view`: the rows of `view` with `column` as event-time attribute (see JobSpec.event_time_views).

        Why: SQL cannot declare a time attribute on a view, and Flink drops time attributes in a
        regular join; an interval join keeps them but holds the watermark back by its interval.
        """
        register_stream_view(self.t_env, self.t_env.to_data_stream(self.t_env.from_path(view)), new_view, column)

    def add_spec(self, spec: JobSpec) -> None:
        for name in spec.inputs:
            self.add_input(name)
        for name in spec.outputs:
            self.add_output(name)
        for contract_name, table, topic in spec.copy_sinks:
            if table not in self._tables:
                c = contracts.load(contract_name)
                self._execute_ddl(self.renderer.sink(c, table, topic=topic, upsert=False))
                self._tables.add(table)
        for module in spec.udf_modules:
            self.add_udfs(module)
        with self._inputs_read_at_source() if spec.reads_at_source else contextlib.nullcontext():
            for sql_file in spec.sql_before_stream:
                self.add_sql_file(sql_file, spec.sql_instances, spec.event_time_views)
            for module in spec.stream_modules:
                import_udf_module(module).build(self)
            for sql_file in spec.sql_files:
                self.add_sql_file(sql_file, spec.sql_instances, spec.event_time_views)
        if spec.reads_at_source:
            self._hops_at_default_buffer_timeout()

    def explain(self) -> str:
        return self.statements.explain()

    def execute(self) -> TableResult:
        """Submits the job, first running each udfs/ module's `warm_up()`, if it has one, when the
        functions will run in this process (see python_workers_run_here). Here and not when the
        job is built: a job that is only built or explained has no use for it.

        The warm-up runs in this thread, not beside it: a second Python thread makes PyFlink's Java
        calls arrive on other JVM threads (its garbage collection releases Java objects over the
        gateway), and the planner, whose metadata provider is per JVM thread, then failed planning
        the next view (NullPointerException: metadataHandlerProvider, in 6 of 11 builds).
        """
        if python_workers_run_here(self.t_env):
            for name in sorted(self._udf_modules):
                warm_up = getattr(import_udf_module(name), "warm_up", None)
                if warm_up is not None:
                    warm_up()
        return self.statements.execute()


_CREATED_VIEW = re.compile(r"^\s*CREATE\s+(?:TEMPORARY\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?", re.I)


def build(specs: list[JobSpec], profile: Profile, opts: RunOptions, job_name: str | None = None) -> Pipeline:
    name = job_name or "cxstream-" + "+".join(s.name for s in specs)
    t_env = create_table_env(flink_config(profile, opts, name))
    pipeline = Pipeline(t_env, profile, opts, name)
    pipeline.share_sources = any(spec.stream_modules for spec in specs)
    pipeline.hop_for_others = pipeline.share_sources and len(specs) > 1 and any(s.reads_at_source for s in specs)
    for spec in specs:
        pipeline.add_spec(spec)
    return pipeline


def register_stream_view(t_env: StreamTableEnvironment, stream: DataStream, view: str,
                         time_column: str | None = None) -> None:
    """Register `stream` as the view `view`, in event time, with the stream's own watermarks.

    The event-time attribute is `time_column` if given, else a `rowtime` column taken from each
    record's stream timestamp. Either way the watermark is SOURCE_WATERMARK(): the one that already
    flows in the stream, not a new guess, so a round trip through the DataStream API neither delays
    nor advances event time.
    """
    from pyflink.table import DataTypes, Schema

    builder = Schema.new_builder()
    if time_column is None:
        time_column = "rowtime"
        builder = builder.column_by_metadata(time_column, DataTypes.TIMESTAMP_LTZ(3))
    schema = builder.watermark(time_column, "SOURCE_WATERMARK()").build()
    t_env.create_temporary_view(view, t_env.from_data_stream(stream, schema))


def keyed_by_column(t_env: StreamTableEnvironment, view: str, key: str, time_column: str) -> KeyedStream:
    """`view`'s rows as a stream keyed by its STRING column `key`, the key taken in the JVM.

    PyFlink's key_by runs a Python function per record to compute the key (an operator of its own:
    in the throughput bench its task was 80 % busy, beside the decisions' own 100 %), then hands
    Row(key, row) to the keyed function. The key is a column here, so SQL builds that same
    Row(key, row) and the stream is partitioned on its first field by the same Java selector
    PyFlink uses: one Python hop per record instead of two.

    This leans on PyFlink internals that key_by itself uses (the KeyByKeySelector class, the
    KeyedStream constructor, the Row(key, row) input of its keyed operators), which is why the
    apache-flink version is pinned; tests/test_decisions_e2e.py fails if they change.
    """
    from pyflink.common import Types
    from pyflink.datastream.data_stream import DataStream, KeyedStream
    from pyflink.java_gateway import get_gateway

    # Flink's own SQL spelling of each column's type (pyflink's DataType repr is not SQL).
    schema = t_env.from_path(view)._j_table.getResolvedSchema()
    names = [str(n) for n in schema.getColumnNames()]
    types = [str(t.toString()).replace(" *ROWTIME*", "") for t in schema.getColumnDataTypes()]
    row_type = ", ".join(f"`{n}` {t}" for n, t in zip(names, types, strict=True))
    columns = ", ".join(f"`{n}`" for n in names)
    # The time attribute stays a top-level column as well: it becomes the records' stream timestamp.
    keyed_rows = t_env.sql_query(f"SELECT `{key}`, CAST(ROW({columns}) AS ROW<{row_type}>), `{time_column}` "
                                 f"FROM {view}")
    # Row(key, row, time) with RowTypeInfo, what PyFlink's keyed operators take as input (to_data_stream
    # would give Flink SQL's external type instead).
    gateway = get_gateway()
    row_type_info = gateway.jvm.org.apache.flink.table.types.utils.TypeConversions.fromDataTypeToLegacyInfo(
        keyed_rows._j_table.getResolvedSchema().toPhysicalRowDataType())
    stream = DataStream(t_env._j_tenv.toAppendStream(keyed_rows._j_table, row_type_info))
    j_keyed = stream._j_data_stream.keyBy(gateway.jvm.KeyByKeySelector(),
                                          Types.ROW([Types.STRING()]).get_java_type_info())
    # The original type is only read by KeyedStream's reduce/filter/window helpers, not by process.
    return KeyedStream(j_keyed, stream.get_type(), stream)


def flush_upstream_every(stream: DataStream, buffer_timeout_ms: int) -> None:
    """Network buffers on the way into `stream` (it and every operator upstream of it) are shipped
    at least every `buffer_timeout_ms`, whatever the job's execution.buffer-timeout.interval.

    A buffer that does not fill waits for the timeout, and at the event rates of a 2-core machine
    they rarely fill: every exchange on a latency-critical path pays up to the timeout. Each task
    also has a thread that wakes to flush at that period, busy or not: with 10 ms on every task of
    the suite those threads used 0.18 cores of an idle suite. So only the path that needs it gets
    the short one. The Java transformations are reached through PyFlink's private _j_data_stream.
    """
    for transformation in stream._j_data_stream.getTransformation().getTransitivePredecessors():
        transformation.setBufferTimeout(buffer_timeout_ms)


STREAM_STAGE_MODE_KEY = "cxstream.stream-stages.execution-mode"


@contextlib.contextmanager
def python_thread_mode(stream: DataStream) -> Iterator[None]:
    """Python DataStream functions added to `stream`'s job inside run in THREAD mode, in the JVM.

    PyFlink picks a DataStream function's operator (embedded in the JVM, or in an external worker
    process) when the function is added, from the environment's configuration at that moment; SQL
    UDFs are planned later, from the table configuration. So a per-event stage can run in the
    task's own thread (no bundle to wait for, no serialisation to a worker process: what the
    decisions' latency target needs) while the pandas UDFs elsewhere in the same job, which THREAD
    mode does not support, stay in PROCESS mode.
    """
    from pyflink.java_gateway import get_gateway
    from pyflink.util.java_utils import load_java_class

    # The operators keep a reference to the environment's Configuration object and read the mode
    # again when they open: they get a copy that says THREAD, and the environment its own back.
    field = load_java_class("org.apache.flink.streaming.api.environment.StreamExecutionEnvironment") \
        .getDeclaredField("configuration")
    field.setAccessible(True)
    j_env = stream._j_data_stream.getExecutionEnvironment()
    shared = field.get(j_env)
    if str(shared.toMap().get(STREAM_STAGE_MODE_KEY) or "thread").lower() != "thread":
        yield
        return
    thread_conf = get_gateway().jvm.org.apache.flink.configuration.Configuration(shared)
    thread_conf.setString("python.execution-mode", "thread")
    field.set(j_env, thread_conf)
    try:
        yield
    finally:
        field.set(j_env, shared)


def stop_with_savepoint(job_client, savepoint_dir: str, drain: bool = False) -> str:
    """Stop a running job with a savepoint and return the savepoint's path.

    PyFlink 2.3's JobClient.stop_with_savepoint calls a Java overload that no longer exists (the
    savepoint format became a required argument), so the Java client is called directly.
    """
    from pyflink.common.completable_future import CompletableFuture
    from pyflink.java_gateway import get_gateway

    fmt = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    future = job_client._j_job_client.stopWithSavepoint(drain, savepoint_dir, fmt)
    return CompletableFuture(future, str).result()
