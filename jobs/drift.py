"""drift: per-feature drift statistics of interactions and customer sentiment against a reference profile.

cx.events.interactions, cx.events.messages → sql/drift.sql (+ udfs/drift.py, udfs/sentiment.py)
→ cx.drift. The reference profile is reference/default.json (build another with `cxstream reference
build`); it is read when the job is built and travels with the job's functions, so workers need no copy.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="drift",
    description="Drift statistics of monitored features against a reference profile",
    inputs=("interaction", "message"),
    outputs=("drift_stat",),
    sql_files=("drift.sql",),
    udf_modules=("sentiment", "drift"),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
