"""Command-line entry point shared by every jobs/<name>.py file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from cxstream import broker
from cxstream.ddl import STARTUP_MODES
from cxstream.profiles import PROFILES, make_profile
from cxstream.topics import ensure_topics, suite_topics

if TYPE_CHECKING:
    from cxstream.runtime import JobSpec


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default="local",
                        help="which connectors back the tables (default: local)")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers; default: "
                        f"${broker.ENV_BOOTSTRAP}, else the local broker (started if needed)")
    parser.add_argument("--format", choices=("avro", "json"), default=None,
                        help="wire format of the cx.events.* and output topics (default: avro)")
    parser.add_argument("--topic-prefix", default=None, help="prefix every topic name (isolation)")
    parser.add_argument("--startup-mode", choices=STARTUP_MODES, default="earliest-offset",
                        help="where sources start when not restoring from a savepoint")
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument("--from-savepoint", metavar="PATH", help="restore state and offsets from it")
    parser.add_argument("--checkpoint-interval", default="10 s", help="e.g. '10 s'; 'off' disables")
    parser.add_argument("--on-cluster", action="store_true",
                        help="submitted with `flink run` (cxstream submit): the cluster's configuration decides "
                        "checkpoint storage, state backend, Python interpreter and memory, and the client "
                        "returns once the job is submitted")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra Flink configuration entry for this job (repeatable)")


def options_from_args(args: argparse.Namespace):  # -> RunOptions
    from cxstream.runtime import RunOptions

    return RunOptions(
        startup_mode=args.startup_mode,
        parallelism=args.parallelism,
        restore_from=args.from_savepoint,
        checkpoint_interval=None if args.checkpoint_interval == "off" else args.checkpoint_interval,
        cluster_managed=getattr(args, "on_cluster", False),
        extra_config=dict(_key_value(item) for item in getattr(args, "conf", [])),
    )


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise SystemExit(f"--conf expects KEY=VALUE, got {item!r}")
    return key.strip(), value.strip()


ENV_BROKER_WAIT = "CXSTREAM_BROKER_WAIT_S"
POD_BROKER_WAIT_S = 60.0


def broker_wait_s() -> float:
    """How long a job waits at start for a Kafka that refuses connections (broker.wait_while_refused).

    In a Kubernetes pod (KUBERNETES_SERVICE_HOST is set in every one, where deploy/k8s runs the jobs)
    60 s: the job may start before its Kafka service accepts connections, and exiting at once only
    earns a restart with back-off. Elsewhere 0: whoever runs `python jobs/X.py` with a wrong port
    hears so at once. CXSTREAM_BROKER_WAIT_S (seconds) overrides both; it is not a CXSTREAM_KAFKA_*
    name because those all become Kafka client properties (profiles.client_properties_from_env).
    """
    value = os.environ.get(ENV_BROKER_WAIT)
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            raise SystemExit(f"{ENV_BROKER_WAIT} expects seconds, got {value!r}") from None
    return POD_BROKER_WAIT_S if os.environ.get("KUBERNETES_SERVICE_HOST") else 0.0


def main(spec: JobSpec, argv: list[str] | None = None, *, own_error_line: bool = True) -> int:
    """Run jobs/X.py. As a script it says a broker error in one line of its own; `cxstream job`
    (own_error_line=False) lets the error reach the CLI, which says it in the CLI's words."""
    from cxstream.runtime import build

    parser = argparse.ArgumentParser(prog=f"jobs/{spec.name}.py", description=spec.description)
    add_job_arguments(parser)
    parser.add_argument("--explain", action="store_true", help="print the optimized plan and exit")
    args = parser.parse_args(argv)
    try:
        bootstrap = broker.resolve_bootstrap(args.bootstrap_servers, start_local=args.profile == "local",
                                             wait_s=broker_wait_s())
    except broker.BrokerError as exc:  # an expected condition, said in one line as the CLI says it
        if not own_error_line:
            raise
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    profile = make_profile(args.profile, bootstrap, args.format, args.topic_prefix)
    ensure_topics(bootstrap, suite_topics(profile.topic_prefix, profile.partitions))
    pipeline = build([spec], profile, options_from_args(args), job_name=f"cxstream-{spec.name}")
    if args.explain:
        print(pipeline.explain())
        return 0
    result = pipeline.execute()
    client = result.get_job_client()
    print(f"submitted {spec.name}: job id {client.get_job_id()}", file=sys.stderr)
    if args.on_cluster:  # the job runs on the cluster; `cxstream jobs` follows it from here
        return 0
    try:
        result.wait()
    except KeyboardInterrupt:
        print("stopping…", file=sys.stderr)
        client.cancel().result()
    return 0
