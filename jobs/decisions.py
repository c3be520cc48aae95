"""decisions: next-best-action triggers from each customer's running context, with feedback.

interactions + messages (VADER-scored in the stream stage) + context (route- and item-keyed context fanned out to the
customers who booked the route or carted the item) + outcomes → sql/decisions_inputs.sql (one stream)
→ udfs/decisions_stage.py (keyed by customer; rules/nba.yaml via udfs/nba_rules.py) →
sql/decisions.sql → cx.nba.triggers and cx.nba.feedback (and invalid or late records → cx.dlq).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="decisions",
    description="Next-best-action triggers per customer event (rules/nba.yaml), with feedback from outcomes",
    inputs=("interaction", "message", "context", "outcome"),
    outputs=("nba_trigger", "action_feedback"),
    sql_before_stream=("decisions_inputs.sql",),
    # The context fan-out is a regular join (an interval join would hold the watermark back by its
    # 7 days); its rows go on in event time through context_fanout.
    event_time_views=(("context_fanout_joined", "context_fanout", "event_time"),),
    stream_modules=("decisions_stage",),
    # Per-event latency target: read the inputs in the sources' tasks, not a hop away (runtime._shared).
    reads_at_source=True,
    sql_files=("decisions.sql",),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
