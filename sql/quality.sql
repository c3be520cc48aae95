-- Data quality: a Great Expectations suite evaluated on every one-minute window of interactions.
--
-- Reads:   interactions                (valid, on-time rows of cx.events.interactions)
-- Defines: quality_alert_evaluations   (one row per expectation and window, `breached` when it failed)
--
-- The suite lives next to the schemas (schemas/expectations/interaction.json); udfs/quality.py runs
-- it. The window uses the group-window syntax because Flink 2.3 runs Python aggregate functions as
-- event-time windows only there. udfs/alert_dedup.py turns the evaluations into data_quality alerts
-- on cx.alerts, one per expectation (the subject): a failure that persists over several windows is
-- one open alert with a growing count, and the first window where the expectation holds again
-- resolves it.

CREATE TEMPORARY VIEW quality_alert_evaluations AS
SELECT
  'data_quality'                                                         AS kind,
  CONCAT('interactions.', r.expectation, COALESCE(CONCAT('.', r.column_name), '')) AS subject,
  r.severity                                                             AS severity,
  r.breached                                                             AS breached,
  r.observed                                                             AS observed,
  r.threshold                                                            AS threshold,
  r.detail                                                               AS detail,
  EXTRACT(EPOCH FROM w.window_start) * 1000 + EXTRACT(MILLISECOND FROM w.window_start) AS window_start_ms,
  EXTRACT(EPOCH FROM w.window_end) * 1000 + EXTRACT(MILLISECOND FROM w.window_end)     AS window_end_ms
FROM (
  SELECT
    TUMBLE_START(event_time, INTERVAL '1' MINUTE) AS window_start,
    TUMBLE_END(event_time, INTERVAL '1' MINUTE)   AS window_end,
    dq_check('interactions', JSON_OBJECT(KEY 'event_type' VALUE event_type, KEY 'customer_id' VALUE customer_id,
                                         KEY 'channel' VALUE channel, KEY 'amount' VALUE amount)) AS checked
  FROM interactions
  GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE)
) AS w,
LATERAL TABLE(dq_results(w.checked)) AS r(expectation, column_name, severity, breached, observed, threshold, detail);
