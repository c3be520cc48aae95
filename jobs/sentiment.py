"""sentiment: VADER-scored customer turns aggregated per conversation, customer, agent and channel.

cx.events.messages → udfs/sentiment.py (vectorised VADER) → sql/sentiment.sql → cx.sentiment
(and invalid or late records → cx.dlq).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream.runtime import JobSpec  # noqa: E402

# One instance of the aggregate query per scope: (scope, the column that identifies it).
SCOPES = {"conversation": "conversation_id", "customer": "customer_id", "agent": "agent_id", "channel": "channel"}

SPEC = JobSpec(
    name="sentiment",
    description="Sentiment of customer turns per conversation, customer, agent and channel",
    inputs=("message",),
    outputs=("sentiment_aggregate",),
    sql_files=("sentiment.sql",),
    udf_modules=("sentiment",),
    sql_instances=tuple({"scope": scope, "scope_id": column} for scope, column in SCOPES.items()),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
