"""signals: per-customer behavioural signals over event-time windows.

cx.events.interactions → sql/signals.sql → cx.signals (and invalid or late records → cx.dlq).

Run on its own with `python jobs/signals.py` (local profile, local broker), or submit it to a
cluster with `flink run -py jobs/signals.py`; `cxstream run` runs it as part of the whole suite.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

_SOURCE = "TABLE interactions_chained"
_TIME = "DESCRIPTOR(event_time)"

# One instance of the signals query per window kind: (window_kind, window TVF call).
WINDOWS = {
    "tumble_1m": f"TUMBLE({_SOURCE}, {_TIME}, INTERVAL '1' MINUTE)",
    "hop_5m_1m": f"HOP({_SOURCE}, {_TIME}, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)",
    "hop_1h_5m": f"HOP({_SOURCE}, {_TIME}, INTERVAL '5' MINUTE, INTERVAL '1' HOUR)",
    "session_10m": f"SESSION({_SOURCE} PARTITION BY customer_id, {_TIME}, INTERVAL '10' MINUTE)",
    "cumulate_1d_1h": f"CUMULATE({_SOURCE}, {_TIME}, INTERVAL '1' HOUR, INTERVAL '1' DAY)",
}

SPEC = JobSpec(
    name="signals",
    description="Per-customer behavioural signals over event-time windows",
    inputs=("interaction",),
    outputs=("signal",),
    sql_files=("signals.sql",),
    sql_instances=tuple({"window_kind": kind, "window": tvf} for kind, tvf in WINDOWS.items()),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
