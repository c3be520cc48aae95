"""deploy/: the Kubernetes manifests parse, say what a production job needs, and point at real files.

Nothing here can start a Kubernetes cluster; what can be checked on this machine is checked: the YAML
parses, each resource is one the Flink operator knows, checkpointing, a bundled state backend and a
restart strategy are configured, every path inside the image maps to a file this repository has (the
Dockerfile copies them there), and the job arguments are ones the job's own command line accepts.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml

from cxstream.jobmain import add_job_arguments
from cxstream.paths import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
IMAGE_ROOT = "/opt/cxstream/"  # where deploy/Dockerfile puts the repository's files
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
FLINK_KINDS = {"FlinkDeployment", "FlinkSessionJob"}


def _documents() -> list[tuple[Path, dict]]:
    out = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path, doc))
    return out


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _dockerfile_copies() -> list[str]:
    sources = []
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        m = re.match(r"COPY\s+(.+)\s+\S+$", line.strip())
        if m:
            sources += m.group(1).split()
    return sources


def test_manifests_exist_and_parse_as_operator_resources() -> None:
    kinds = {doc["kind"] for _, doc in _documents()}
    assert {"FlinkDeployment", "FlinkSessionJob"} <= kinds
    for path, doc in _documents():
        if doc["kind"] in FLINK_KINDS:
            assert doc["apiVersion"] == "flink.apache.org/v1beta1", path
            assert doc["metadata"]["name"], path


def test_every_cluster_has_checkpointing_a_bundled_state_backend_and_a_restart_strategy() -> None:
    deployments = [(p, d) for p, d in _documents() if d["kind"] == "FlinkDeployment"]
    assert deployments
    for path, doc in deployments:
        conf = doc["spec"]["flinkConfiguration"]
        assert conf["state.backend.type"] in ("hashmap", "rocksdb"), path  # both ship with flink-dist
        assert conf["execution.checkpointing.interval"], path
        assert conf["execution.checkpointing.dir"] and conf["execution.checkpointing.savepoint-dir"], path
        assert conf["restart-strategy.type"] in ("fixed-delay", "exponential-delay", "failure-rate"), path
        assert conf["python.executable"], path


def test_session_jobs_name_a_session_cluster_defined_here() -> None:
    sessions = {d["metadata"]["name"] for _, d in _documents()
                if d["kind"] == "FlinkDeployment" and "job" not in d["spec"]}
    for path, doc in _documents():
        if doc["kind"] == "FlinkSessionJob":
            assert doc["spec"]["deploymentName"] in sessions, path


def test_every_file_the_manifests_and_the_image_reference_exists_in_the_repository() -> None:
    referenced = {s for _, doc in _documents() for s in _strings(doc) if s.startswith(IMAGE_ROOT)}
    assert referenced, "the manifests run nothing from the image"
    copied = _dockerfile_copies()
    for source in copied:
        assert (REPO_ROOT / source).exists(), f"deploy/Dockerfile copies {source}, which is not in the repository"
    for path in referenced:
        relative = path.removeprefix(IMAGE_ROOT)
        assert (REPO_ROOT / relative).exists(), f"{path} is not in the repository ({relative})"
        assert any(relative == c or relative.startswith(c.rstrip("/") + "/") for c in copied), \
            f"{path} is not copied into the image by deploy/Dockerfile"
    claims = {d["metadata"]["name"] for _, d in _documents() if d["kind"] == "PersistentVolumeClaim"}
    for path, doc in _documents():
        for volume in doc.get("spec", {}).get("podTemplate", {}).get("spec", {}).get("volumes", []):
            assert volume["persistentVolumeClaim"]["claimName"] in claims, path


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_job_arguments_are_accepted_by_the_job_entry_point(path: Path) -> None:
    for _, doc in [(p, d) for p, d in _documents() if p == path and "job" in d.get("spec", {})]:
        job = doc["spec"]["job"]
        assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver"
        assert job["jarURI"].endswith(".jar") and "flink-python" in job["jarURI"]
        args = job["args"]
        script = args[args.index("-py") + 1]
        parser = argparse.ArgumentParser(exit_on_error=False)
        add_job_arguments(parser)
        parsed = parser.parse_args(args[args.index("-py") + 2:])
        assert parsed.profile == "cluster" and parsed.on_cluster and parsed.bootstrap_servers
        assert (REPO_ROOT / script.removeprefix(IMAGE_ROOT)).exists()


def test_the_sql_gateway_recipe_names_scripts_that_exist() -> None:
    recipe = (DEPLOY / "sql-gateway.md").read_text()
    for script in set(re.findall(r"bin/([\w-]+\.sh)", recipe)):
        assert (Path(__import__("pyflink").__file__).parent / "bin" / script).exists(), script


@pytest.mark.slow
def test_sql_script_of_a_sql_only_job_is_valid_flink_sql() -> None:
    """What the SQL Gateway would run: every statement of `cxstream sql-script signals` planned by Flink.

    The script is executed statement by statement in a table environment (CREATE TABLE/VIEW; SET,
    a client command, becomes the session configuration as the gateway makes it), and its EXECUTE
    STATEMENT SET is EXPLAINed instead, which plans every INSERT without a broker.
    """
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from cxstream.profiles import make_profile
    from cxstream.runtime import RunOptions, load_spec
    from cxstream.sqlscript import render

    # The local profile: its connector is on this machine (the official one, for --profile cluster,
    # comes from Maven Central, which this machine cannot reach); the script then starts with ADD JAR.
    script = render(load_spec("signals"), make_profile("local", "127.0.0.1:9"), RunOptions())
    assert "ADD JAR '" in script
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    head, statement_set = body.split("EXECUTE STATEMENT SET", 1)
    statements = [s.strip() for s in head.split(";\n") if s.strip()]
    assert statement_set.count("INSERT INTO") == 6  # five window kinds and the dead-letter route
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for statement in statements:
        option = re.fullmatch(r"SET '([^']+)' = '([^']*)'", statement)
        if option:
            t_env.get_config().set(option.group(1), option.group(2))
        else:
            t_env.execute_sql(statement)
    assert t_env.get_config().get("table.local-time-zone", None) == "UTC"
    plan = t_env.execute_sql("EXPLAIN STATEMENT SET" + statement_set.rstrip().rstrip(";")).collect()
    text = "".join(str(row[0]) for row in plan)
    assert "Sink(table=[default_catalog.default_database.signals]" in text
    assert "Sink(table=[default_catalog.default_database.dlq]" in text
    assert "WindowAggregate" in text or "LocalWindowAggregate" in text


def test_sql_script_refuses_jobs_with_python_and_redacts_secrets_when_printed() -> None:
    from cxstream.profiles import Profile
    from cxstream.runtime import RunOptions, load_spec
    from cxstream.sqlscript import render

    with pytest.raises(ValueError, match="cxstream submit sentiment"):
        render(load_spec("sentiment"), Profile("cluster", "kafka:9092"), RunOptions())
    secret = "s3cr3t-pass"
    profile = Profile("cluster", "kafka:9092", client_properties={
        "sasl.jaas.config": f'org.apache.kafka.common.security.plain.PlainLoginModule required password="{secret}";',
        "security.protocol": "SASL_SSL"})
    printed = render(load_spec("signals"), profile, RunOptions())
    assert secret not in printed and "SASL_SSL" in printed
    assert secret in render(load_spec("signals"), profile, RunOptions(), reveal_secrets=True)
