-- Drift of monitored features against a reference profile, per feature and one-minute window.
--
-- Reads:  interactions  (valid, on-time rows of cx.events.interactions)
--         messages      (valid, on-time rows of cx.events.messages; customers' turns, scored by VADER)
-- Writes: drift         (cx.drift, upsert on feature + window_start + window_end)
--
-- Each window's values are summarised as a histogram over the reference's bins (drift_summary, a
-- mergeable Python aggregate: counts per bin, count, nulls, sum, sum of squares), then compared with
-- the reference (drift_statistics): PSI, KS (at the bin edges), Jensen-Shannon distance, mean shift
-- in reference standard deviations, standard-deviation ratio, null rate. See udfs/drift.py for the
-- definitions and the error binning introduces; reference/default.json for the reference.
--
-- The window is written with the group-window syntax (GROUP BY TUMBLE(...)) rather than the TUMBLE
-- table function: in streaming mode Flink 2.3 runs a Python aggregate function as an event-time
-- window only there (with the table function it would become an ever-updating group aggregate).


-- One row per (feature, value): the monitored features. Keep in step with FEATURES in cxstream/reference.py,
-- which builds the reference profile from the same definitions.
CREATE TEMPORARY VIEW drift_values AS
SELECT 'amount' AS feature, amount AS number, CAST(NULL AS STRING) AS category, event_time
FROM interactions WHERE event_type IN ('add_to_cart', 'remove_from_cart', 'purchase')
UNION ALL
SELECT 'channel', CAST(NULL AS DOUBLE), channel, event_time FROM interactions
UNION ALL
SELECT 'event_type', CAST(NULL AS DOUBLE), event_type, event_time FROM interactions
UNION ALL
-- the same score and the same turns as the sentiment job (sql/sentiment.sql)
SELECT 'sentiment_compound', vader_compound(text), CAST(NULL AS STRING), event_time
FROM messages WHERE sender = 'customer';


INSERT INTO drift
SELECT
  feature,
  CAST(window_start AS TIMESTAMP_LTZ(3))                           AS window_start,
  CAST(window_end AS TIMESTAMP_LTZ(3))                             AS window_end,
  JSON_VALUE(stats, '$.reference')                                 AS reference,
  CAST(JSON_VALUE(stats, '$.sample_size' RETURNING INTEGER) AS BIGINT) AS sample_size,
  JSON_VALUE(stats, '$.null_rate' RETURNING DOUBLE)                AS null_rate,
  JSON_VALUE(stats, '$.psi' RETURNING DOUBLE)                      AS psi,
  JSON_VALUE(stats, '$.ks_statistic' RETURNING DOUBLE)             AS ks_statistic,
  JSON_VALUE(stats, '$.js_distance' RETURNING DOUBLE)              AS js_distance,
  JSON_VALUE(stats, '$.mean_shift_sd' RETURNING DOUBLE)            AS mean_shift_sd,
  JSON_VALUE(stats, '$.std_ratio' RETURNING DOUBLE)                AS std_ratio
FROM (
  SELECT feature, window_start, window_end, drift_statistics(feature, summary) AS stats
  FROM (
    SELECT
      feature,
      TUMBLE_START(event_time, INTERVAL '1' MINUTE)    AS window_start,
      TUMBLE_END(event_time, INTERVAL '1' MINUTE)      AS window_end,
      drift_summary(feature, number, category)         AS summary
    FROM drift_values
    GROUP BY feature, TUMBLE(event_time, INTERVAL '1' MINUTE)
  )
);
