"""The `cxstream` command line.

Every command that talks to Kafka takes --bootstrap-servers (or CXSTREAM_BOOTSTRAP_SERVERS); without
either it uses the project's local broker, starting it when that makes sense.
"""

from __future__ import annotations

import argparse
import os
import sys
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

    return main(load_spec(args.name), args.job_args)


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
