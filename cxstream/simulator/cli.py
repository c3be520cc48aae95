"""`cxstream simulate`: the simulator's options, mounted by the lead's cxstream.cli.

`add_arguments` adds everything except --bootstrap-servers (the lead's parser adds and resolves it);
`main` receives args.bootstrap_servers already set. `python -m cxstream.simulator` adds it itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime

from cxstream.codec import parse_iso_millis
from cxstream.simulator.config import (
    CLOCKS,
    DEFAULT_HUGE_BYTES,
    DEFAULT_LINGER_MS,
    DEFAULT_MIX,
    OUTCOME_MODES,
    SimulatorConfig,
    parse_duration_ms,
    parse_mix,
)
from cxstream.simulator.hostile import BAD_KINDS
from cxstream.simulator.scenarios import SCENARIOS, describe


def _epoch_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "now":
        return int(datetime.now().timestamp()) * 1000
    return parse_iso_millis(text)


def _delays_text() -> str:
    """The default response delays as --help states them, from the table they come from."""
    from cxstream.simulator.outcomes import RESPONSE_DELAY_S

    return ", ".join(f"{median:g} s {outcome}" for outcome, (median, _, _) in
                     sorted(RESPONSE_DELAY_S.items(), key=lambda item: item[1][0]))


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("volume and pacing")
    g.add_argument("--rate", type=float, default=200.0,
                   help="events per second sent, all topics together (default 200; 0 = as fast as possible)")
    g.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this long: wall seconds, or event-time seconds with --clock simulated")
    g.add_argument("--count", type=int, default=None,
                   help="stop after this many events (good, bad and duplicates)")
    g.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same traffic")
    g.add_argument("--mix", type=parse_mix, default=None,
                   help="shares per contract, e.g. interaction=0.7,message=0.2,context=0.05,outcome=0.05 "
                        f"(default {','.join(f'{k}={v}' for k, v in DEFAULT_MIX.items())})")
    g.add_argument("--customers", type=int, default=20_000, help="population size (default 20000)")
    g.add_argument("--outcomes", choices=OUTCOME_MODES, default=None,
                   help="triggers: answer the decisions job's real triggers (read from cx.nba.triggers) with "
                        "outcomes; synthetic: a made-up background stream (its share is the mix's outcome "
                        "weight). Default: triggers with --clock wall, synthetic with --clock simulated")
    g.add_argument("--outcome-delay-scale", type=float, default=1.0, metavar="FACTOR",
                   help="multiply the delays before an outcome answers a trigger (--outcomes triggers; median "
                        f"{_delays_text()}) by this factor, e.g. 0.1 for answers within seconds (default 1)")

    g = p.add_argument_group("time")
    g.add_argument("--clock", choices=CLOCKS, default="wall",
                   help="wall: event_time is now; simulated: starts at --start and advances with the model")
    g.add_argument("--start", type=_epoch_ms, default=None, metavar="EPOCH_MS|ISO|now",
                   help="start of the simulated clock (default: now)")
    g.add_argument("--event-rate", type=float, default=None,
                   help="events per second of event time in the model "
                        "(default: --rate, or 200 when unthrottled)")
    g.add_argument("--out-of-order", type=parse_duration_ms, default=0, metavar="DURATION",
                   help="set event_time back by up to this much (e.g. 2s; default 0)")
    g.add_argument("--late-share", type=float, default=0.0, help="share of late events (default 0)")
    g.add_argument("--lateness", type=parse_duration_ms, default=10_000, metavar="DURATION",
                   help="how late a late event is: 10s, 10m, 1d (max 1d, beyond is 'absurd'; default 10s)")

    g = p.add_argument_group("hostile input")
    g.add_argument("--bad-share", type=float, default=0.0, help="share of bad records per topic (e.g. 0.02)")
    g.add_argument("--bad-kinds", type=lambda s: tuple(k.strip() for k in s.split(",") if k.strip()),
                   default=None, help=f"comma-separated subset of: {', '.join(BAD_KINDS)} (default: all "
                   "that apply to the format)")
    g.add_argument("--huge-bytes", type=int, default=DEFAULT_HUGE_BYTES,
                   help="size of the huge_string bad kind (default 1,000,000: fits a stock broker's limit)")
    g.add_argument("--duplicate-share", type=float, default=0.0,
                   help="probability that a good record is sent twice (legal at-least-once duplicates)")
    g.add_argument("--drift-after", type=float, default=None, metavar="SECONDS",
                   help="inject drift this long (event time) after the start: interaction amounts x3 and 60%% "
                        "of interactions moved to the kiosk channel (see --drift-amount-factor)")
    g.add_argument("--drift-amount-factor", type=float, default=3.0)
    g.add_argument("--drift-channel-share", type=float, default=0.6)

    g = p.add_argument_group("scenarios")
    g.add_argument("--scenario", action="append", default=[], choices=list(SCENARIOS), metavar="NAME",
                   help=f"mix a scripted scenario into the traffic (repeatable): {', '.join(SCENARIOS)}")
    g.add_argument("--scenario-every", type=float, default=None, metavar="SECONDS",
                   help="repeat the scenarios every N event-time seconds with new customer ids")
    g.add_argument("--scenario-time-scale", type=float, default=1.0, metavar="FACTOR",
                   help="multiply the pauses inside every scenario by this factor, e.g. 0.25 to tell a 4-minute "
                        "story in 1 (default 1). Rules with time thresholds, such as the 2-minute cart idle, "
                        "see the shortened pauses too")
    g.add_argument("--list-scenarios", action="store_true", help="describe the scenarios and exit")

    g = p.add_argument_group("output")
    g.add_argument("--format", choices=("avro", "json"), default="avro", help="value format (default avro)")
    g.add_argument("--topic-prefix", default="", help="prefix for every topic name (default none)")
    g.add_argument("--compression", choices=("none", "gzip", "lz4"), default="none",
                   help="producer compression (lz4 needs the lz4 package; default none)")
    g.add_argument("--linger-ms", type=int, default=DEFAULT_LINGER_MS, metavar="MS",
                   help="how long the producer waits to fill a batch; an event's latency includes it "
                        f"(default {DEFAULT_LINGER_MS}: the local broker's fetches cost per stored batch)")
    g.add_argument("--dry-run", action="store_true",
                   help="print the records as JSON lines on stdout instead of producing (no Kafka)")
    g.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    # Set by `cxstream run` for the simulator it starts (see _stop_with_parent); not for people.
    p.add_argument("--stop-with-parent", type=int, default=None, metavar="PID", help=argparse.SUPPRESS)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        seed=args.seed, fmt=args.format, clock=args.clock, start_ms=args.start, rate=args.rate,
        event_rate=args.event_rate, duration_s=args.duration, count=args.count,
        topic_prefix=args.topic_prefix or "",
        mix=args.mix if args.mix is not None else dict(DEFAULT_MIX), customers=args.customers,
        out_of_order_ms=args.out_of_order, late_share=args.late_share, lateness_ms=args.lateness,
        bad_share=args.bad_share, bad_kinds=args.bad_kinds, huge_bytes=args.huge_bytes,
        duplicate_share=args.duplicate_share, scenarios=tuple(args.scenario),
        drift_after_s=args.drift_after, drift_amount_factor=args.drift_amount_factor,
        drift_channel_share=args.drift_channel_share,
        scenario_every_s=args.scenario_every, scenario_time_scale=args.scenario_time_scale,
        compression=None if args.compression == "none" else args.compression,
        outcomes=args.outcomes, outcome_delay_scale=args.outcome_delay_scale, linger_ms=args.linger_ms,
    )


def _dry_run(config: SimulatorConfig) -> int:
    from cxstream.simulator.engine import generate

    try:
        for ev in generate(config):
            line = {"topic": ev.topic, "key": ev.key.decode(errors="replace") if ev.key else None,
                    "timestamp": ev.timestamp_ms, "bad_kind": ev.bad_kind, "bad_reason": ev.bad_reason,
                    "duplicate": ev.duplicate, "late": ev.late, "scenario": ev.scenario,
                    "record": ev.record if ev.bad_kind != "huge_string" else "<huge>"}
            print(json.dumps(line, default=str, ensure_ascii=False))
    except BrokenPipeError:  # `| head` closed the pipe: that is a normal way to stop looking
        sys.stderr.close()
    return 0


def _stop_on_signals() -> threading.Event:
    """SIGINT and SIGTERM end a run between two sends: stop generating, flush, report; a second one aborts.

    SIGINT is handled explicitly because a process started in the background by a shell script inherits
    SIGINT as ignored, and `kill -INT` (how cxstream run stops us) must still work.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return stop

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _stop_with_parent(parent_pid: int | None, stop: threading.Event) -> None:
    """On Linux, have the kernel send us SIGINT when `parent_pid` (the process that started us) dies.

    `cxstream run` stops its simulator on every exit it gets to see (SIGINT, SIGTERM, SIGHUP, the end
    of --duration), but `kill -9` gives it none, and the simulator then kept producing, adopted by
    init, with nothing left to stop it. PR_SET_PDEATHSIG turns the parent's death, however it comes,
    into a SIGINT here, which takes the ordinary way out: stop sending, flush, report.

    It is armed here, by the simulator itself, rather than in a preexec_fn of the parent's Popen:
    the parent has threads by then (Flink's gateway), and a preexec_fn in a threaded process can
    deadlock the child before exec. Armed this late, it can miss a parent that died during our
    start-up; then getppid() no longer names that parent (we were adopted), so we stop at once.
    The kernel watches the parent *thread* that forked us: `cxstream run` starts us from its main
    thread, which lives as long as the process. Elsewhere than Linux this does nothing.
    """
    if parent_pid is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0) != 0:
        print(f"cxstream simulate: cannot watch parent process {parent_pid}: "
              f"{os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return
    if os.getppid() != parent_pid:
        print(f"cxstream simulate: parent process {parent_pid} is gone; stopping", file=sys.stderr)
        stop.set()


def main(args: argparse.Namespace) -> int:
    if getattr(args, "list_scenarios", False):
        for name, doc in describe():
            print(f"{name:<28} {doc}")
        return 0
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"cxstream simulate: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        if config.count is None and config.duration_s is None:
            config = config.with_(count=100)
        return _dry_run(config)
    from cxstream.simulator.producer import run

    stop = _stop_on_signals()  # first: the SIGINT that _stop_with_parent arms must find its handler
    _stop_with_parent(getattr(args, "stop_with_parent", None), stop)
    stats = run(config, args.bootstrap_servers, progress=not args.quiet, stop=stop)
    if not args.quiet:
        print(stats.summary(), file=sys.stderr)
    return 1 if stats.failed else 0
