"""The `cxstream` command line.

Every command that talks to Kafka takes --bootstrap-servers (or CXSTREAM_BOOTSTRAP_SERVERS); without
either it uses the project's local broker, starting it when that makes sense.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from cxstream import broker

Handler = Callable[[argparse.Namespace], int]


def _cmd_setup(args: argparse.Namespace) -> int:
    from cxstream.jars import ensure_jars

    jars = ensure_jars()
    if not args.quiet:
        print(f"connector: {jars.connector}")
        for jar in jars.third_party:
            print(f"library:   {jar}")
    return 0


def _cmd_broker(args: argparse.Namespace) -> int:
    if args.action == "start":
        state = broker.start(port=args.port)
        print(f"broker running: pid {state.pid}, bootstrap {state.bootstrap_servers}, log {state.log}")
    elif args.action == "stop":
        print("broker stopped" if broker.stop() else "no local broker was running")
    else:
        state = broker.status()
        if state is None:
            print("no local broker is running")
            return 3
        ok = broker.answers(state.bootstrap_servers, timeout_s=3)
        print(f"broker pid {state.pid} on {state.bootstrap_servers}: {'answering' if ok else 'NOT answering'}")
        return 0 if ok else 1
    return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from cxstream.topics import ensure_topics, suite_topics

    bootstrap = broker.resolve_bootstrap(args.bootstrap_servers)
    created = ensure_topics(bootstrap, suite_topics(args.topic_prefix, args.partitions))
    print(f"created {len(created)} topic(s): {', '.join(created)}" if created else "all topics exist")
    return 0


def _cmd_ddl(args: argparse.Namespace) -> int:
    from cxstream import contracts
    from cxstream.ddl import SourceOptions, TableRenderer
    from cxstream.profiles import make_profile

    bootstrap = args.bootstrap_servers or os.environ.get(broker.ENV_BOOTSTRAP) or "localhost:9092"
    renderer = TableRenderer(make_profile(args.profile, bootstrap, args.format, args.topic_prefix))
    for name in contracts.INPUTS:
        c = contracts.load(name)
        opts = SourceOptions(job_name="ddl", group_id="cxstream-analyst")
        print(renderer.source(c, c.table, opts, redact=True) + ";\n")
    for name in contracts.OUTPUTS:
        c = contracts.load(name)
        print(renderer.sink(c, c.table, redact=True) + ";\n")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from cxstream.simulator import cli as sim_cli
    from cxstream.topics import ensure_topics, suite_topics

    args.bootstrap_servers = broker.resolve_bootstrap(args.bootstrap_servers)
    ensure_topics(args.bootstrap_servers, suite_topics(args.topic_prefix or ""))
    return sim_cli.main(args)


def _cmd_job(args: argparse.Namespace) -> int:
    from cxstream.jobmain import main
    from cxstream.runtime import load_spec

    return main(load_spec(args.name), args.job_args, own_error_line=False)


def _cmd_run(args: argparse.Namespace) -> int:
    from cxstream.suite import run_suite

    return run_suite(args)


def _cmd_tail(args: argparse.Namespace) -> int:
    from cxstream.tail import tail

    return tail(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from cxstream.bench import run_bench

    return run_bench(args)


def _cmd_reference(args: argparse.Namespace) -> int:
    from cxstream.reference import main as reference_main

    return reference_main(args)


def _cmd_cluster(args: argparse.Namespace) -> int:
    from cxstream import cluster

    if args.action == "start":
        started = time.monotonic()
        state, new = cluster.start(rest_port=args.port, slots=args.slots)
        took = f" in {time.monotonic() - started:.1f} s" if new else " (already running)"
        print(f"Flink cluster up{took}: JobManager {state.address}, Web UI {state.url}, "
              f"{state.slots} slot(s); config {state.conf_dir}, logs {state.log_dir}")
    elif args.action == "stop":
        print("Flink cluster stopped" if cluster.stop() else "no cxstream Flink cluster was running")
    else:
        found = cluster.status()
        if found is None:
            print("no cxstream Flink cluster is running")
            return 3
        state, info = found
        print(f"Flink {info.get('flink-version')} at {state.url}: {info.get('taskmanagers')} TaskManager(s), "
              f"{info.get('slots-available')}/{info.get('slots-total')} slots free, "
              f"{info.get('jobs-running')} job(s) running")
    return 0


def _jobmanager(args: argparse.Namespace) -> str:
    from cxstream import cluster

    return args.jobmanager or os.environ.get("CXSTREAM_JOBMANAGER") or cluster.require_running().address


def _cmd_submit(args: argparse.Namespace) -> int:
    from cxstream import submit

    jobmanager = _jobmanager(args)
    bootstrap = args.bootstrap_servers or os.environ.get(broker.ENV_BOOTSTRAP)
    if bootstrap is None and args.profile == "local":
        bootstrap = broker.resolve_bootstrap(None)
    sub = submit.Submission(job=args.job, jobmanager=jobmanager, parallelism=args.parallelism,
                            from_savepoint=args.from_savepoint, bootstrap_servers=bootstrap, profile=args.profile,
                            topic_prefix=args.topic_prefix, value_format=args.format, startup_mode=args.startup_mode,
                            requirements=args.requirements, python_executable=args.python_executable,
                            jars=tuple(args.jar), conf=tuple(args.conf))
    if args.dry_run:
        print(" ".join(sub.command()))
        return 0
    started = time.monotonic()
    job_id = submit.submit(sub)
    print(f"submitted {args.job} to {jobmanager} in {time.monotonic() - started:.1f} s: job id {job_id}"
          f" (Web UI http://{jobmanager}/#/job/running/{job_id}/overview)")
    return 0


def _cmd_jobs(args: argparse.Namespace) -> int:
    from cxstream import submit

    jobmanager = _jobmanager(args)
    if args.action == "list":
        jobs = submit.list_jobs(jobmanager)
        if not jobs:
            print(f"no jobs on {jobmanager}")
        for job in jobs:
            if args.all or job["state"] not in ("FINISHED", "CANCELED", "FAILED"):
                print(f"{job['jid']}  {job['state']:<11} {job['name']}")
        return 0
    if not args.job:
        raise SystemExit(f"cxstream jobs {args.action}: name the job (or its id)")
    job = submit.find_job(jobmanager, args.job)
    if args.action == "cancel":
        submit.cancel(jobmanager, job["jid"])
        print(f"cancelled {job['name']} ({job['jid']})")
        return 0
    if args.savepoint is None:
        raise SystemExit("cxstream jobs stop: --savepoint [DIR] is required (or use `jobs cancel`)")
    started = time.monotonic()
    path = submit.stop_with_savepoint(jobmanager, job["jid"], args.savepoint or None, drain=args.drain)
    print(f"stopped {job['name']} ({job['jid']}) with a savepoint in {time.monotonic() - started:.1f} s: {path}")
    print(f"resume with: cxstream submit {job['name'].removeprefix('cxstream-')} --from-savepoint {path}")
    return 0


def _cmd_sql_script(args: argparse.Namespace) -> int:
    from cxstream.profiles import make_profile
    from cxstream.runtime import RunOptions, load_spec
    from cxstream.sqlscript import render

    bootstrap = args.bootstrap_servers or os.environ.get(broker.ENV_BOOTSTRAP) or "localhost:9092"
    profile = make_profile(args.profile, bootstrap, args.format, args.topic_prefix)
    script = render(load_spec(args.job), profile, RunOptions(parallelism=args.parallelism),
                    reveal_secrets=bool(args.out))
    if args.out:
        with open(args.out, "w") as f:
            f.write(script)
        os.chmod(args.out, 0o600)  # it holds the client secrets, if any
        print(f"wrote {args.out}")
    else:
        print(script, end="")
    return 0
def _cmd_sql(args: argparse.Namespace) -> int:
    from cxstream.sqlrun import main as sql_main

    return sql_main(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from cxstream.report import main as report_main

    return report_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxstream",
        description="PyFlink stream analytics for real-time customer experience.",
        epilog="Start with `cxstream run` (the whole suite with a simulator) or `cxstream --help COMMAND`.",
    )
    parser.add_argument("--verbose", action="store_true", help="show full stack traces on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    def bootstrap_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bootstrap-servers", help=f"Kafka bootstrap servers (default: ${broker.ENV_BOOTSTRAP}, "
                       "else the local broker)")

    p = add("setup", _cmd_setup, "prepare jars and compile the connector (idempotent)")
    p.add_argument("--quiet", action="store_true")

    p = add("broker", _cmd_broker, "start, stop or inspect the local Kafka-protocol broker (Tansu)")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")

    p = add("topics", _cmd_topics, "create the suite's topics (idempotent)")
    bootstrap_arg(p)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--topic-prefix", default="")

    p = add("ddl", _cmd_ddl, "print the Flink table definitions a profile generates (secrets redacted)")
    p.add_argument("--profile", choices=("local", "cluster"), default="local")
    p.add_argument("--format", choices=("avro", "json"), default=None)
    p.add_argument("--topic-prefix", default=None)
    bootstrap_arg(p)

    p = add("simulate", _cmd_simulate, "produce realistic CX traffic (and some bad records) to the input topics")
    from cxstream.simulator import cli as sim_cli

    sim_cli.add_arguments(p)
    if not any(a.dest == "bootstrap_servers" for a in p._actions):
        bootstrap_arg(p)

    p = add("job", _cmd_job, "run one job from jobs/ (same as python jobs/NAME.py)")
    p.add_argument("name")
    p.add_argument("job_args", nargs=argparse.REMAINDER, help="options for the job; see jobs/NAME.py --help")

    p = add("run", _cmd_run, "run the whole suite on the embedded Flink with the simulator and a live view")
    from cxstream.suite import add_run_arguments

    add_run_arguments(p)

    p = add("tail", _cmd_tail, "print records of a topic as they arrive")
    from cxstream.tail import add_tail_arguments

    add_tail_arguments(p)
    bootstrap_arg(p)

    p = add("bench", _cmd_bench, "benchmarks: throughput and end-to-end latency, written to bench/results/")
    from cxstream.bench import add_bench_arguments

    add_bench_arguments(p)
    bootstrap_arg(p)

    p = add("reference", _cmd_reference, "drift reference profiles: `reference build` from a file, topic or simulator")
    from cxstream.reference import add_arguments as add_reference_arguments

    add_reference_arguments(p)

    p = add("cluster", _cmd_cluster, "start, stop or inspect a standalone Flink cluster from the wheel's distribution")
    p.add_argument("action", choices=("start", "stop", "status"))
    p.add_argument("--port", type=int, help="REST/Web UI port on loopback (default: a free one)")
    p.add_argument("--slots", type=int, default=2, help="task slots of the TaskManager (default 2)")

    def jobmanager_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--jobmanager", metavar="HOST:PORT", help="the cluster's REST address (default: "
                       "$CXSTREAM_JOBMANAGER, else the cluster `cxstream cluster start` runs)")

    p = add("submit", _cmd_submit, "submit a job from jobs/ to a Flink cluster with `flink run` (detached)")
    p.add_argument("job", help="a job in jobs/ (signals, sentiment, drift, quality, …)")
    jobmanager_arg(p)
    p.add_argument("--from-savepoint", metavar="PATH", help="restore state and offsets from a savepoint")
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--profile", choices=("local", "cluster"), default="local",
                   help="local: this project's connector (uploaded with the job); cluster: official connectors")
    p.add_argument("--jar", action="append", default=[], help="a jar to upload with the job (repeatable), "
                   "e.g. flink-sql-connector-kafka and flink-sql-avro with --profile cluster")
    p.add_argument("--requirements", metavar="FILE", help="requirements.txt the TaskManagers pip-install (-pyreq)")
    p.add_argument("--python-executable", metavar="PATH", help="the Python on the TaskManagers (-pyexec; "
                   "default: the cluster's python.executable)")
    p.add_argument("--topic-prefix", default=None)
    p.add_argument("--format", choices=("avro", "json"), default=None)
    p.add_argument("--startup-mode", default=None, help="where sources start when not restoring")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Flink option for the job")
    p.add_argument("--dry-run", action="store_true", help="print the flink run command and exit")
    bootstrap_arg(p)

    p = add("jobs", _cmd_jobs, "list, stop (with a savepoint) or cancel jobs on a Flink cluster")
    p.add_argument("action", choices=("list", "stop", "cancel"))
    p.add_argument("job", nargs="?", help="job name (signals or cxstream-signals) or id")
    p.add_argument("--savepoint", nargs="?", const="", default=None, metavar="DIR",
                   help="stop with a savepoint, into DIR (default: the cluster's savepoint directory)")
    p.add_argument("--drain", action="store_true", help="fire all event-time timers before stopping")
    p.add_argument("--all", action="store_true", help="list finished, cancelled and failed jobs too")
    jobmanager_arg(p)

    p = add("sql-script", _cmd_sql_script, "a SQL-only job as one Flink SQL script for the SQL Gateway / SQL client")
    p.add_argument("job")
    p.add_argument("--profile", choices=("local", "cluster"), default="cluster")
    p.add_argument("--format", choices=("avro", "json"), default=None)
    p.add_argument("--topic-prefix", default=None)
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--out", metavar="FILE", help="write it here, secrets included (mode 600); "
                   "printed, secrets are redacted")
    bootstrap_arg(p)
    p = add("sql", _cmd_sql, "streaming SQL over the suite's topics as tables: a file, or a prompt without one")
    from cxstream.sqlrun import add_sql_arguments

    add_sql_arguments(p)

    p = add("report", _cmd_report, "one HTML page: throughput, latency per output topic, alerts over time")
    from cxstream.report import add_report_arguments

    add_report_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line by default; the whole trace with --verbose
        if args.verbose:
            raise
        from cxstream.errors import describe

        print(f"cxstream: error: {describe(exc)}", file=sys.stderr)
        print("(run with --verbose for the full trace)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
