"""quality: Great Expectations suites per event-time window; failures → cx.alerts.

cx.events.interactions → sql/quality.sql (+ udfs/quality.py, schemas/expectations/) → cx.alerts.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="quality",
    description="Great Expectations suites per window; failed expectations become alerts",
    inputs=("interaction",),
    outputs=("alert",),
    sql_files=("quality.sql",),
    udf_modules=("quality",),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
