-- Monitoring alerts: one evaluation per alert kind, subject and event-time window.
--
-- Reads:  interactions    (valid, on-time rows of cx.events.interactions, with their Kafka timestamp)
--         dlq_in          (cx.dlq read back; event time = detected_at)
--         drift_in        (cx.drift read back; event time = window_end)
--         sentiment_in    (cx.sentiment read back; event time = window_end)
--         nba_triggers_in (cx.nba.triggers read back; event time = emit_time, when the decision was
--                          made: see "Triggers are windowed by emit time" below)
-- Defines: alert_evaluations, which udfs/alert_dedup.py keys by (kind, subject) and turns into
--          open / count / resolved records on cx.alerts (sql/alert_publish.sql).
--
-- Every query below emits a row per window whether or not the condition is breached (`breached`):
-- the clean windows are what resolves an open alert. Thresholds come from rules/alerts.yaml as
-- ${placeholders} (jobs/alerts.py flattens the file: event_lag.max_p99_seconds becomes
-- ${event_lag_max_p99_seconds}). Millisecond epochs are written EXTRACT(EPOCH ...) * 1000 +
-- EXTRACT(MILLISECOND ...): Flink 2.3 casts no timestamp to a number, and its TIMESTAMPDIFF
-- truncates to whole seconds whatever the unit. PERCENTILE interpolates linearly between the two
-- nearest ranks (as numpy and pandas do by default).


-- Event-time lag: how long after its event time each input record reached Kafka, p99 per window.
-- A uniform delay (a stalled producer catching up) shows here; a single straggler is routed to
-- the DLQ as late instead, and counts in dlq_rate.
CREATE TEMPORARY VIEW input_lag AS
SELECT event_time,
       (EXTRACT(EPOCH FROM kafka_timestamp) * 1000 + EXTRACT(MILLISECOND FROM kafka_timestamp))
       - (EXTRACT(EPOCH FROM event_time) * 1000 + EXTRACT(MILLISECOND FROM event_time)) AS lag_ms
FROM interactions;

CREATE TEMPORARY VIEW event_lag_evaluations AS
SELECT
  'event_lag'                                                    AS kind,
  'cx.events.interactions'                                       AS subject,
  '${event_lag_severity}'                                        AS severity,
  p99_lag_s > ${event_lag_max_p99_seconds}                       AS breached,
  p99_lag_s                                                      AS observed,
  CAST(${event_lag_max_p99_seconds} AS DOUBLE)                   AS threshold,
  CONCAT('p99 of Kafka timestamp - event time over ', CAST(records AS STRING), ' records, max ',
         CAST(max_lag_s AS STRING), ' s')                        AS detail,
  window_start, window_end
FROM (
  SELECT window_start, window_end, COUNT(*) AS records,
         PERCENTILE(lag_ms / 1000.0, 0.99) AS p99_lag_s,
         MAX(lag_ms) / 1000.0              AS max_lag_s
  FROM TABLE(TUMBLE(TABLE input_lag, DESCRIPTOR(event_time), INTERVAL '${window_minutes}' MINUTE))
  GROUP BY window_start, window_end
)
WHERE records >= ${event_lag_min_records};


-- Triggers are windowed by emit time, not by their triggering event's time. The decisions job
-- writes a trigger when it decides it: triggers from four inputs interleave as their events arrive,
-- and a cart-recovery timer fires minutes after the events around it, so event_time is out of order
-- on cx.nba.triggers by more than the 5 s watermark (a 110 s live run sent 38 valid triggers to
-- cx.dlq as late), and by no fixed bound a longer delay could be sized to: it grows with the
-- decisions job's slowest input. emit_time is stamped as the trigger is written, in order on the
-- topic; schemas/nba_trigger.avsc makes it nba_triggers_in's event time (cx.read_back_time), so the
-- watermark and the lateness check follow it and every valid trigger counts, while windows still
-- close by the records' own times, not by when this job reads them. A window holds the triggers
-- decided in it: e2e_latency per minute of decisions; fairness per ten minutes of decisions
-- against the customers active in those minutes.
--
-- The two p99 evaluations above and below stay two: one view over both would be a UNION ALL,
-- whose windows close at the slower of the two watermarks (a quiet decisions topic would hold
-- event_lag back), and whose thresholds, minimum counts and wording would become CASE kind WHEN ...

-- End-to-end latency SLO: trigger emit time minus the triggering event's time, p99 per window.
--
-- Except for triggers decided by a timer. udfs/nba_rules.py decide() writes the moment a trigger
-- was decided at into its evidence, and cart_idle is the one moment a timer decides: such a
-- trigger's event time is the timer's due time (the cart's last activity + features.cart_idle),
-- and an event-time timer fires only once the watermark passes it, i.e. once the decisions job has
-- read events at least the watermark delay (${watermark_delay_seconds} s) past it. Measured from
-- the due time, every prompt cart_recovery trigger would already be at the delay, and a minute of
-- them would breach the 5 s SLO with nothing slow. So a timer's trigger is measured from due time
-- + watermark delay, the earliest moment it could be emitted (cxstream/bench.py measures windowed
-- results from window end + delay in the same way). What is left is what the job adds: waiting
-- for the records that move the watermark on (on every input partition, short of one idle for
-- 30 s), and the decision itself.
CREATE TEMPORARY VIEW trigger_latency AS
SELECT emit_time,
       (EXTRACT(EPOCH FROM emit_time) * 1000 + EXTRACT(MILLISECOND FROM emit_time))
       - (EXTRACT(EPOCH FROM event_time) * 1000 + EXTRACT(MILLISECOND FROM event_time))
       - CASE WHEN evidence['moment'] = 'cart_idle' THEN ${watermark_delay_seconds} * 1000 ELSE 0 END
         AS latency_ms
FROM nba_triggers_in;

CREATE TEMPORARY VIEW e2e_latency_evaluations AS
SELECT
  'e2e_latency'                                                  AS kind,
  'cx.nba.triggers'                                              AS subject,
  '${e2e_latency_severity}'                                      AS severity,
  p99_latency_s > ${e2e_latency_max_p99_seconds}                 AS breached,
  p99_latency_s                                                  AS observed,
  CAST(${e2e_latency_max_p99_seconds} AS DOUBLE)                 AS threshold,
  CONCAT('p99 of emit time - event time (a cart-idle timer''s: emit time - (due time + ',
         '${watermark_delay_seconds} s)) over ', CAST(triggers AS STRING), ' triggers, max ',
         CAST(max_latency_s AS STRING), ' s')                    AS detail,
  window_start, window_end
FROM (
  SELECT window_start, window_end, COUNT(*) AS triggers,
         PERCENTILE(latency_ms / 1000.0, 0.99) AS p99_latency_s,
         MAX(latency_ms) / 1000.0              AS max_latency_s
  FROM TABLE(TUMBLE(TABLE trigger_latency, DESCRIPTOR(emit_time), INTERVAL '${window_minutes}' MINUTE))
  GROUP BY window_start, window_end
)
WHERE triggers >= ${e2e_latency_min_triggers};


-- Throughput drop: input records per window against the mean of the previous windows. A window
-- with no records at all has no row, so it neither alerts nor enters the baseline (see README).
CREATE TEMPORARY VIEW input_per_window AS
SELECT window_start, window_end, window_time, COUNT(*) AS records
FROM TABLE(TUMBLE(TABLE interactions, DESCRIPTOR(event_time), INTERVAL '${window_minutes}' MINUTE))
GROUP BY window_start, window_end, window_time;

CREATE TEMPORARY VIEW throughput_drop_evaluations AS
SELECT
  'throughput_drop'                                              AS kind,
  'cx.events.interactions'                                       AS subject,
  '${throughput_drop_severity}'                                  AS severity,
  records < ${throughput_drop_min_ratio} * baseline              AS breached,
  CAST(records AS DOUBLE)                                        AS observed,
  ${throughput_drop_min_ratio} * baseline                        AS threshold,
  CONCAT(CAST(records AS STRING), ' records against a mean of ', CAST(ROUND(baseline, 1) AS STRING),
         ' over the previous ', CAST(baseline_windows AS STRING), ' windows') AS detail,
  window_start, window_end
FROM (
  -- Flink's OVER windows end at the current row: the previous rows' sum is the frame's minus it.
  SELECT window_start, window_end, records,
         COUNT(*) OVER w - 1                                                  AS baseline_windows,
         CAST(SUM(records) OVER w - records AS DOUBLE) / NULLIF(COUNT(*) OVER w - 1, 0) AS baseline
  FROM input_per_window
  WINDOW w AS (ORDER BY window_time ROWS BETWEEN ${throughput_drop_baseline_minutes} PRECEDING AND CURRENT ROW)
)
WHERE baseline_windows >= ${throughput_drop_min_baseline_minutes}
  AND baseline >= ${throughput_drop_min_baseline_records};


-- DLQ rate: dead letters of interactions / (dead letters + valid records) per window. A bad record
-- is counted once (by source partition and offset) even if several jobs dead-lettered it.
CREATE TEMPORARY VIEW dlq_rate_input AS
SELECT event_time AS t, CAST(NULL AS STRING) AS dead_letter FROM interactions
UNION ALL
SELECT detected_at AS t, CONCAT(CAST(source_partition AS STRING), '@', CAST(source_offset AS STRING)) AS dead_letter
FROM dlq_in
WHERE source_topic LIKE '%cx.events.interactions';

CREATE TEMPORARY VIEW dlq_rate_evaluations AS
SELECT
  'dlq_rate'                                                     AS kind,
  'cx.events.interactions'                                       AS subject,
  '${dlq_rate_severity}'                                         AS severity,
  CAST(dead_letters AS DOUBLE) / (dead_letters + valid) > ${dlq_rate_max_rate} AS breached,
  CAST(dead_letters AS DOUBLE) / (dead_letters + valid)          AS observed,
  CAST(${dlq_rate_max_rate} AS DOUBLE)                           AS threshold,
  CONCAT(CAST(dead_letters AS STRING), ' dead letters, ', CAST(valid AS STRING), ' valid records') AS detail,
  window_start, window_end
FROM (
  SELECT window_start, window_end,
         COUNT(DISTINCT dead_letter)                          AS dead_letters,
         COUNT(*) FILTER (WHERE dead_letter IS NULL)          AS valid
  FROM TABLE(TUMBLE(TABLE dlq_rate_input, DESCRIPTOR(t), INTERVAL '${window_minutes}' MINUTE))
  GROUP BY window_start, window_end
)
WHERE dead_letters + valid >= ${dlq_rate_min_records};


-- Drift: PSI and Jensen-Shannon distance of each monitored feature above their bounds.
CREATE TEMPORARY VIEW drift_evaluations AS
SELECT
  'drift'                                                        AS kind,
  CONCAT(feature, '.psi')                                        AS subject,
  '${drift_severity}'                                            AS severity,
  psi > ${drift_max_psi}                                         AS breached,
  psi                                                            AS observed,
  CAST(${drift_max_psi} AS DOUBLE)                               AS threshold,
  CONCAT('PSI against ', reference, ' over ', CAST(sample_size AS STRING), ' values') AS detail,
  CAST(window_start AS TIMESTAMP(3)) AS window_start, CAST(window_end AS TIMESTAMP(3)) AS window_end
FROM drift_in
WHERE psi IS NOT NULL AND sample_size >= ${drift_min_sample_size}
UNION ALL
SELECT
  'drift', CONCAT(feature, '.js_distance'), '${drift_severity}',
  js_distance > ${drift_max_js_distance}, js_distance, CAST(${drift_max_js_distance} AS DOUBLE),
  CONCAT('Jensen-Shannon distance against ', reference, ' over ', CAST(sample_size AS STRING), ' values'),
  CAST(window_start AS TIMESTAMP(3)), CAST(window_end AS TIMESTAMP(3))
FROM drift_in
WHERE js_distance IS NOT NULL AND sample_size >= ${drift_min_sample_size};


-- Sentiment spikes per agent and per channel: a high share of negative customer turns, or a low
-- mean compound score, over cx.sentiment's windows (5 minutes, sliding every minute).
CREATE TEMPORARY VIEW sentiment_spike_evaluations AS
SELECT
  'sentiment_spike'                                              AS kind,
  CONCAT(`scope`, ':', scope_id, '.negative_share')                AS subject,
  '${sentiment_spike_severity}'                                  AS severity,
  negative_share > ${sentiment_spike_max_negative_share}         AS breached,
  negative_share                                                 AS observed,
  CAST(${sentiment_spike_max_negative_share} AS DOUBLE)          AS threshold,
  CONCAT(CAST(message_count AS STRING), ' customer turns, mean compound ',
         CAST(ROUND(mean_compound, 3) AS STRING))                AS detail,
  CAST(window_start AS TIMESTAMP(3)) AS window_start, CAST(window_end AS TIMESTAMP(3)) AS window_end
FROM sentiment_in
WHERE `scope` IN ('agent', 'channel') AND message_count >= ${sentiment_spike_min_messages}
UNION ALL
SELECT
  'sentiment_spike', CONCAT(`scope`, ':', scope_id, '.mean_compound'), '${sentiment_spike_severity}',
  mean_compound < ${sentiment_spike_min_mean_compound}, mean_compound,
  CAST(${sentiment_spike_min_mean_compound} AS DOUBLE),
  CONCAT(CAST(message_count AS STRING), ' customer turns, negative share ',
         CAST(ROUND(negative_share, 3) AS STRING)),
  CAST(window_start AS TIMESTAMP(3)), CAST(window_end AS TIMESTAMP(3))
FROM sentiment_in
WHERE `scope` IN ('agent', 'channel') AND message_count >= ${sentiment_spike_min_messages};


-- Decision fairness: per action, triggers per active customer of each segment (the segments are
-- interaction.avsc's allowed values), and the lowest segment rate over the highest. Triggers count
-- in the window they were decided in (emit time, above), customers in the one they were active in. A segment
-- counts only with enough active customers, an action only with enough triggers; below the bound
-- (four-fifths rule: 0.8) the action alerts. A segment with active customers and no trigger of the
-- action has rate 0, which is exactly the unfairness this is for.
CREATE TEMPORARY VIEW segment_activity AS
SELECT window_start, window_end,
       COUNT(DISTINCT customer_id) FILTER (WHERE segment = 'new')     AS active_new,
       COUNT(DISTINCT customer_id) FILTER (WHERE segment = 'regular') AS active_regular,
       COUNT(DISTINCT customer_id) FILTER (WHERE segment = 'vip')     AS active_vip
FROM TABLE(TUMBLE(TABLE interactions, DESCRIPTOR(event_time), INTERVAL '${fairness_window_minutes}' MINUTE))
GROUP BY window_start, window_end;

CREATE TEMPORARY VIEW action_triggers AS
SELECT window_start, window_end, action,
       COUNT(*)                                   AS triggers,
       COUNT(*) FILTER (WHERE segment = 'new')     AS triggers_new,
       COUNT(*) FILTER (WHERE segment = 'regular') AS triggers_regular,
       COUNT(*) FILTER (WHERE segment = 'vip')     AS triggers_vip
FROM TABLE(TUMBLE(TABLE nba_triggers_in, DESCRIPTOR(emit_time), INTERVAL '${fairness_window_minutes}' MINUTE))
GROUP BY window_start, window_end, action;

CREATE TEMPORARY VIEW segment_rates AS
SELECT t.window_start, t.window_end, t.action, t.triggers,
       CASE WHEN a.active_new >= ${fairness_min_active_customers}
            THEN CAST(t.triggers_new AS DOUBLE) / a.active_new END         AS rate_new,
       CASE WHEN a.active_regular >= ${fairness_min_active_customers}
            THEN CAST(t.triggers_regular AS DOUBLE) / a.active_regular END AS rate_regular,
       CASE WHEN a.active_vip >= ${fairness_min_active_customers}
            THEN CAST(t.triggers_vip AS DOUBLE) / a.active_vip END         AS rate_vip
FROM action_triggers AS t
JOIN segment_activity AS a ON t.window_start = a.window_start AND t.window_end = a.window_end;

CREATE TEMPORARY VIEW fairness_evaluations AS
SELECT
  'fairness'                                                     AS kind,
  action                                                         AS subject,
  '${fairness_severity}'                                         AS severity,
  lowest / highest < ${fairness_min_ratio}                       AS breached,
  lowest / highest                                               AS observed,
  CAST(${fairness_min_ratio} AS DOUBLE)                          AS threshold,
  CONCAT('triggers per active customer: new ', COALESCE(CAST(ROUND(rate_new, 4) AS STRING), '-'),
         ', regular ', COALESCE(CAST(ROUND(rate_regular, 4) AS STRING), '-'),
         ', vip ', COALESCE(CAST(ROUND(rate_vip, 4) AS STRING), '-'),
         ' (', CAST(triggers AS STRING), ' triggers)')           AS detail,
  window_start, window_end
FROM (
  SELECT *,
         LEAST(COALESCE(rate_new, 1e300), COALESCE(rate_regular, 1e300), COALESCE(rate_vip, 1e300)) AS lowest,
         GREATEST(COALESCE(rate_new, -1.0), COALESCE(rate_regular, -1.0), COALESCE(rate_vip, -1.0)) AS highest,
         CASE WHEN rate_new IS NULL THEN 0 ELSE 1 END + CASE WHEN rate_regular IS NULL THEN 0 ELSE 1 END
           + CASE WHEN rate_vip IS NULL THEN 0 ELSE 1 END                                            AS segments
  FROM segment_rates
)
WHERE segments >= 2 AND triggers >= ${fairness_min_triggers} AND highest > 0;


-- Everything the deduplication stage sees, with window bounds as epoch milliseconds.
CREATE TEMPORARY VIEW alert_evaluations AS
SELECT kind, subject, severity, breached, observed, threshold, detail,
       EXTRACT(EPOCH FROM window_start) * 1000 + EXTRACT(MILLISECOND FROM window_start) AS window_start_ms,
       EXTRACT(EPOCH FROM window_end) * 1000 + EXTRACT(MILLISECOND FROM window_end)     AS window_end_ms
FROM (
  SELECT * FROM event_lag_evaluations
  UNION ALL SELECT * FROM e2e_latency_evaluations
  UNION ALL SELECT * FROM throughput_drop_evaluations
  UNION ALL SELECT * FROM dlq_rate_evaluations
  UNION ALL SELECT * FROM drift_evaluations
  UNION ALL SELECT * FROM sentiment_spike_evaluations
  UNION ALL SELECT * FROM fairness_evaluations
);
