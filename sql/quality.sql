-- Data quality: a Great Expectations suite evaluated on every one-minute window of interactions.
--
-- Reads:  interactions  (valid, on-time rows of cx.events.interactions)
-- Writes: alerts        (cx.alerts: one data_quality alert per failed expectation and window)
--
-- The suite lives next to the schemas (schemas/expectations/interaction.json); udfs/quality.py runs
-- it. The window uses the group-window syntax because Flink 2.3 runs Python aggregate functions as
-- event-time windows only there. Each failure is its own alert: the window is part of the subject.

INSERT INTO alerts
SELECT
  'data_quality'                                                         AS kind,
  CONCAT('interactions.', f.expectation, COALESCE(CONCAT('.', f.column_name), ''), ' @ ',
         DATE_FORMAT(w.window_start, 'yyyy-MM-dd''T''HH:mm'))           AS subject,
  f.severity                                                             AS severity,
  'open'                                                                 AS state,
  f.observed                                                             AS observed,
  f.threshold                                                            AS threshold,
  f.detail                                                               AS detail,
  CAST(w.window_start AS TIMESTAMP_LTZ(3))                               AS window_start,
  CAST(w.window_end AS TIMESTAMP_LTZ(3))                                 AS window_end,
  CAST(1 AS BIGINT)                                                      AS `count`,
  CAST(w.window_end AS TIMESTAMP_LTZ(3))                                 AS first_seen,
  CAST(w.window_end AS TIMESTAMP_LTZ(3))                                 AS last_seen
FROM (
  SELECT
    TUMBLE_START(event_time, INTERVAL '1' MINUTE) AS window_start,
    TUMBLE_END(event_time, INTERVAL '1' MINUTE)   AS window_end,
    dq_check('interactions', JSON_OBJECT(KEY 'event_type' VALUE event_type, KEY 'customer_id' VALUE customer_id,
                                         KEY 'channel' VALUE channel, KEY 'amount' VALUE amount)) AS checked
  FROM interactions
  GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE)
) AS w,
LATERAL TABLE(dq_failures(w.checked)) AS f(expectation, column_name, severity, observed, threshold, detail);
