"""passthrough: copies every valid input record, unchanged, to a cx.bench.passthrough* topic.

The benchmark's baseline: the same broker, connector, formats and contract checks as the real
jobs, and no analytics, so the ratio of a job's throughput to this one's is the cost of the job.
It is also the fuzz test's witness: every good record must come out, every bad one go to cx.dlq.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.contracts import COPY_TOPICS  # noqa: E402
from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="passthrough",
    description="Copies every valid input record unchanged (benchmark baseline, fuzz witness)",
    inputs=("interaction", "message", "context", "outcome"),
    outputs=(),
    sql_files=("passthrough.sql",),
    copy_sinks=tuple((contract, f"{contract}_copy", topic) for topic, contract in COPY_TOPICS.items()),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
