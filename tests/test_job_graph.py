"""What the suite's Flink job graph is made of, checked without running it: which tasks flush their
network buffers often, and which sources may let a fetch wait."""

from __future__ import annotations

import re

import pytest

from cxstream import contracts, runtime
from cxstream.profiles import make_profile
from cxstream.runtime import RunOptions, build, load_spec, suite_job_names


@pytest.fixture(scope="module")
def suite_ddl_and_pipeline():
    """The whole suite built as `cxstream run` builds it (not run), and every DDL statement it ran."""
    statements: list[str] = []
    execute = runtime.Pipeline._execute_ddl

    def recording(self, sql: str) -> None:  # noqa: ANN001
        statements.append(sql)
        execute(self, sql)

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CXSTREAM_KAFKA_FETCH_MAX_WAIT_MS", raising=False)  # a profile setting would win
        patch.setattr(runtime.Pipeline, "_execute_ddl", recording)
        profile = make_profile("local", "127.0.0.1:1", "avro", "graph.")
        pipeline = build([load_spec(n) for n in suite_job_names()], profile, RunOptions(checkpoint_interval=None))
    return statements, pipeline


def test_only_sources_that_read_outputs_back_let_a_fetch_wait(suite_ddl_and_pipeline) -> None:
    statements, _ = suite_ddl_and_pipeline
    waits = {}
    for sql in statements:
        if sql.startswith("CREATE TABLE") and "'scan.startup.mode'" in sql:
            topic = re.search(r"'topic' = '([^']+)'", sql).group(1).removeprefix("graph.")
            wait = re.search(r"'properties.fetch.max.wait.ms' = '(\d+)'", sql)
            waits[topic] = wait.group(1) if wait else None
    read_back = {contracts.load(n).topic for n in contracts.OUTPUTS} & set(waits)
    assert read_back == {"cx.dlq", "cx.drift", "cx.sentiment", "cx.nba.triggers"}, waits
    assert {waits[t] for t in read_back} == {str(runtime.OUTPUT_READ_BACK_FETCH_WAIT_MS)}
    # The inputs keep the connector's own short wait: the decisions read them.
    assert all(waits[t] is None for t in waits.keys() - read_back), waits


def test_a_profile_setting_for_the_fetch_wait_wins_over_the_read_back_default(monkeypatch) -> None:
    from cxstream.ddl import SourceOptions, TableRenderer

    monkeypatch.setenv("CXSTREAM_KAFKA_FETCH_MAX_WAIT_MS", "50")
    renderer = TableRenderer(make_profile("local", "x:1", "avro"))
    source = renderer.source(contracts.as_input(contracts.load("drift_stat")), "t",
                             SourceOptions(job_name="j", group_id="g", fetch_max_wait_ms=500))
    assert "'properties.fetch.max.wait.ms' = '50'" in source and "'500'" not in source


def test_only_the_path_into_the_decisions_stage_flushes_its_buffers_every_10_ms(suite_ddl_and_pipeline) -> None:
    flush_ms = runtime.import_udf_module("decisions_stage").TRIGGER_PATH_BUFFER_TIMEOUT_MS
    _, pipeline = suite_ddl_and_pipeline
    conf = runtime.flink_config(pipeline.profile, pipeline.opts, "x")
    assert conf["execution.buffer-timeout.interval"] == "100 ms"
    env = pipeline.t_env._j_tenv.execEnv()
    by_name = {str(t.getName()): t for t in env.getTransformations()}
    decide = by_name["nba-decide"]
    upstream = [t for t in decide.getTransitivePredecessors() if t.getId() != decide.getId()]
    assert upstream, "the decisions stage has no inputs?"
    # -1 is "the job's default" (100 ms): that is what every one of these had before. The shared
    # input streams keep it: their only network edges are the other jobs' hops (runtime._shared).
    shared = {s._j_data_stream.getTransformation().getId() for s in pipeline._shared_streams}
    assert len([t for t in upstream if t.getId() in shared]) == 4  # interactions, messages, context, outcomes
    assert {int(t.getBufferTimeout()) for t in upstream if t.getId() not in shared} == {flush_ms}
    assert {int(t.getBufferTimeout()) for t in upstream if t.getId() in shared} == {-1}
    sources = [str(t.getName()) for t in upstream if not t.getInputs()]
    assert any("interactions" in s for s in sources) and any("messages" in s for s in sources), sources


def test_python_operators_run_apart_from_the_shared_sources_and_the_decisions_read_at_them(
        suite_ddl_and_pipeline) -> None:
    """A Python operator chained into a shared source's task held that task at every bundle, and
    with it the decisions' input (runtime.Pipeline._shared): the other jobs now read one hop away.
    Read from the job graph Flink would run: a task's name lists the operators chained in it."""
    _, pipeline = suite_ddl_and_pipeline
    pipeline.statements._j_statement_set.attachAsDataStream()  # the INSERTs join the DataStream parts
    env = pipeline.t_env._j_tenv.execEnv()
    job_graph = env.getStreamGraph(False).getJobGraph()
    tasks = [str(v.getName()) for v in job_graph.getVerticesSortedTopologicallyFromSources()]
    inputs = [t for t in tasks if t.startswith("Source:") and ".cx.events." in t]
    assert len(inputs) == 4, tasks
    assert not [t for t in inputs if "Python" in t], inputs
    assert any("PythonCalc" in t and not t.startswith("Source:") for t in tasks), tasks  # VADER, a hop away
    # The decisions' path from each input to its stage: no hop (a rescale) before the keyBy.
    by_name = {str(t.getName()): t for t in env.getTransformations()}
    decide = by_name["nba-decide"]
    partitioners = {str(t.getPartitioner()) for t in decide.getTransitivePredecessors()
                    if t.getClass().getSimpleName() == "PartitionTransformation"}
    assert partitioners and not {p for p in partitioners if "RESCALE" in p}, partitioners
    # ... and the hops ship their buffers at the job's default, not the decisions' 10 ms.
    stream_graph = env.getStreamGraph(False)
    hops = [e for n in stream_graph.getStreamNodes().toArray() for e in n.getOutEdges()
            if "RESCALE" in str(e.getPartitioner())]
    assert hops and {int(e.getBufferTimeout()) for e in hops} == {100}, hops


def test_a_pipeline_without_a_job_that_reads_at_the_source_has_no_hops() -> None:
    """The hop protects the decisions' input; without the decisions beside them (the alerts job
    submitted on its own, say) the other jobs read their inputs as before."""
    pipeline = build([load_spec("alerts")], make_profile("local", "127.0.0.1:1", "avro", "graph."),
                     RunOptions(checkpoint_interval=None))
    assert pipeline.share_sources and not pipeline.hop_for_others and not pipeline._shared_streams
