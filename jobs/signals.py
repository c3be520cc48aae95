"""signals: per-customer behavioural signals over event-time windows.

cx.events.interactions → sql/signals.sql → cx.signals (and invalid records → cx.dlq).

Run on its own with `python jobs/signals.py` (local profile, local broker), or submit it to a
cluster with `flink run -py jobs/signals.py`; `cxstream run` runs it as part of the whole suite.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="signals",
    description="Per-customer behavioural signals over event-time windows",
    inputs=("interaction",),
    outputs=("signal",),
    sql_files=("signals.sql",),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
