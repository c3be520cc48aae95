"""Process vs thread execution mode for the sentiment job's vectorised VADER UDF, in one run.

Both modes read the same backlog of simulated traffic (bounded, earliest to end) on the same
broker; events/s = messages read / the job's net runtime. Prints a table and writes
bench/results/sentiment_modes.json. Needs a broker: the local one is started if none runs.

    .venv/bin/python bench/sentiment_modes.py [--events 60000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cxstream import bench, broker  # noqa: E402
from cxstream.runtime import RunOptions, build, load_spec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="simulated events (all topics)")
    args = parser.parse_args()
    bootstrap = broker.resolve_bootstrap(None)
    profile = bench._fresh_profile(bootstrap, "avro")
    messages = bench._produce_backlog(bootstrap, profile, args.events)["cx.events.messages"]
    results = {}
    for mode in ("process", "thread", "process", "thread"):  # twice each, interleaved: a noisy machine
        opts = RunOptions(bounded=True, checkpoint_interval=None, extra_config={"python.execution-mode": mode},
                          group_id=f"modes-{mode}-{time.time_ns()}")
        pipeline = build([load_spec("sentiment")], profile, opts, job_name=f"bench-sentiment-{mode}")
        result = pipeline.execute().get_job_client().get_job_execution_result().result()
        runtime_s = result.get_net_runtime() / 1000
        results.setdefault(mode, []).append(messages / runtime_s)
        print(f"[bench] {mode}: {messages / runtime_s:,.0f} messages/s ({runtime_s:.1f} s)", flush=True)
    print(f"{'mode':<8} {'messages':>9} {'best msg/s':>11} {'runs':>24}")
    for mode, rates in results.items():
        print(f"{mode:<8} {messages:>9,} {max(rates):>11,.0f} {', '.join(f'{r:,.0f}' for r in rates):>24}")
    ratio = max(results["thread"]) / max(results["process"])
    print(f"thread / process: {ratio:.2f}")
    out = REPO / "bench" / "results" / "sentiment_modes.json"
    out.write_text(json.dumps({"cores": os.cpu_count(), "messages": messages, "messages_per_s": results,
                               "thread_over_process": ratio}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
