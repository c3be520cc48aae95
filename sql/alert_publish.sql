-- Write the deduplicated alert records of a stream stage to cx.alerts (upsert on kind + subject).
--
-- Reads:  ${updates} (a view registered by udfs/alert_dedup.py: one row per opened, counted or
--         resolved alert, times as epoch milliseconds)
-- Writes: alerts     (cx.alerts)

INSERT INTO alerts
SELECT
  kind, subject, severity, state, observed, threshold, detail,
  TO_TIMESTAMP_LTZ(window_start_ms, 3) AS window_start,
  TO_TIMESTAMP_LTZ(window_end_ms, 3)   AS window_end,
  `count`,
  TO_TIMESTAMP_LTZ(first_seen_ms, 3)   AS first_seen,
  TO_TIMESTAMP_LTZ(last_seen_ms, 3)    AS last_seen
FROM ${updates};
