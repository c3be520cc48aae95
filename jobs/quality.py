"""quality: Great Expectations suites per event-time window; failures → cx.alerts.

cx.events.interactions → sql/quality.sql (+ udfs/quality.py, schemas/expectations/) → the same
deduplication as the alerts job (udfs/alert_dedup.py, sql/alert_publish.sql) → cx.alerts.
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
    sql_before_stream=("quality.sql",),
    sql_files=(),
    udf_modules=("quality",),
    stream_modules=("alert_dedup",),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
