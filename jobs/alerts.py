"""alerts: monitoring alerts for on-call people, deduplicated per kind and subject.

cx.events.interactions, cx.dlq, cx.drift, cx.sentiment, cx.nba.triggers → sql/alerts.sql (one
evaluation per alert kind, subject and window; thresholds from rules/alerts.yaml) → udfs/alert_dedup.py
(keyed state: open / count / resolved) → sql/alert_publish.sql → cx.alerts. Kinds: event_lag,
e2e_latency, throughput_drop, dlq_rate, drift, sentiment_spike, fairness (data_quality alerts come
from jobs/quality.py through the same deduplication).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cxstream import alert_rules  # noqa: E402
from cxstream.runtime import JobSpec  # noqa: E402

SPEC = JobSpec(
    name="alerts",
    description="Lag, latency SLO, throughput, DLQ rate, drift, sentiment and fairness alerts, deduplicated",
    inputs=("interaction", "dlq_record", "drift_stat", "sentiment_aggregate", "nba_trigger"),
    outputs=("alert",),
    sql_before_stream=("alerts.sql",),
    stream_modules=("alert_dedup",),
    sql_files=(),
    sql_instances=(alert_rules.sql_variables(alert_rules.load()),),
)

if __name__ == "__main__":
    from cxstream.jobmain import main

    sys.exit(main(SPEC))
