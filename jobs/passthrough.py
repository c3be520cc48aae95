"""passthrough: copies valid interactions to cx.bench.passthrough unchanged.

The benchmark's baseline: the same broker, connector, formats and contract checks as the real
jobs, and no analytics, so the ratio of a job's throughput to this one's is the cost of the job.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="passthrough",
    description="Copies valid interactions unchanged (benchmark baseline)",
    inputs=("interaction",),
    outputs=(),
    sql_files=("passthrough.sql",),
    copy_sinks=(("interaction", "passthrough", "cx.bench.passthrough"),),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
