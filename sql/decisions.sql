-- Next-best-action triggers and the feedback on them.
--
-- Reads:  nba_decisions (the stream stage's output: udfs/decisions_stage.py applying rules/nba.yaml
--         to each customer's running context; rowtime = event time of the triggering event)
--         outcomes      (valid, on-time rows of cx.events.outcomes)
-- Writes: nba_triggers    (cx.nba.triggers, upsert on customer_id + trigger_id)
--         action_feedback (cx.nba.feedback, upsert on action + segment + window)


INSERT INTO nba_triggers
SELECT trigger_id, customer_id, action, route, priority, confidence, reason_codes, evidence,
       TO_TIMESTAMP_LTZ(event_ms, 3) AS event_time,
       TO_TIMESTAMP_LTZ(emit_ms, 3)  AS emit_time,
       segment, `value`
FROM nba_decisions;


-- Each outcome with the trigger it answers. An interval join: an outcome is expected within a day
-- of its trigger (that is how long the join keeps triggers in state); an outcome whose trigger this
-- job never issued (or issued more than a day earlier) is not attributed to any action.
CREATE TEMPORARY VIEW resolved_outcomes AS
SELECT o.outcome, d.action, COALESCE(d.segment, 'unknown') AS segment,
       -- the 15-minute slot of the outcome's event time
       TO_TIMESTAMP_LTZ((EXTRACT(EPOCH FROM o.event_time) - MOD(EXTRACT(EPOCH FROM o.event_time), 900)) * 1000, 3)
         AS window_start,
       TO_TIMESTAMP_LTZ((EXTRACT(EPOCH FROM o.event_time) - MOD(EXTRACT(EPOCH FROM o.event_time), 900) + 900) * 1000, 3)
         AS window_end
FROM outcomes AS o
JOIN nba_decisions AS d
  ON o.trigger_id = d.trigger_id AND o.customer_id = d.customer_id
 AND o.event_time BETWEEN d.rowtime AND d.rowtime + INTERVAL '1' DAY;


-- Acceptance and conversion per action and segment, per 15 minutes of outcome event time: what the
-- routing and the rules' values can be tuned against (and what fairness across segments is
-- monitored on). Not an event-time window: the interval join above holds the watermark back by its
-- day, so a window would close a day late. Instead each row is updated as outcomes arrive (the
-- sink is an upsert topic on exactly these keys); one row per action, segment and 15 minutes.
--
-- Bounded state: a regular GROUP BY keeps every group it has seen, and the 15-minute slot is part
-- of the key, so without a TTL the state would grow by one row per action, segment and slot for as
-- long as the job runs. STATE_TTL forgets a row 7 days after its last update. Flink's state TTL
-- counts processing time, and each outcome that updates a row starts its 7 days again. A forgotten
-- row is not deleted from the topic (expiry emits nothing); a row is only overwritten wrongly if an
-- outcome of its slot arrives after it was forgotten: the counts would start again from that outcome
-- and overwrite the full ones on the topic.
-- That needs 7 days of processing time between two outcomes of one slot, which a running job never
-- sees:
--   * an outcome behind the watermark of cx.events.outcomes (its largest LEAST(event_time, Kafka
--     timestamp) minus the 5 s watermark delay) goes to cx.dlq as late, before this query (the
--     `outcomes` view keeps only rows whose dlq_reason is NULL: cxstream/validation.py
--     sql_late_reason). Live, that watermark follows the clock, so a slot stops taking outcomes a few
--     seconds after it ends;
--   * an outcome that comes in ahead of its trigger waits in the interval join until the decisions
--     stage issues the trigger: that adds the stage's lag, seconds to minutes, not days;
--   * a replay reads days of topics in hours: a slot's outcomes are read within the replay, and a
--     row expires at the earliest 7 days after the replay last touched it.
-- What 7 days does not cover: the event-time clock standing still for longer and then outcomes of a
-- slot seen before arriving. That is every input silent for 7 days, or the job stopped for 7 days
-- and restored from a checkpoint: TTL clocks run on while a job is down, and watermarks are not
-- checkpointed (a restored job's watermark starts again from the records it reads, so its backlog
-- is not late). After such a stop, rebuild the feedback of the slots it spans with a replay.
-- The cost of the 7 days: at most 7 x 96 rows per action and segment.
INSERT INTO action_feedback
SELECT /*+ STATE_TTL('resolved_outcomes' = '7d') */
  action,
  segment,
  window_start,
  window_end,
  COUNT(*)                                                         AS outcomes,
  COUNT(*) FILTER (WHERE outcome = 'accepted')                     AS accepted,
  COUNT(*) FILTER (WHERE outcome = 'dismissed')                    AS dismissed,
  COUNT(*) FILTER (WHERE outcome = 'ignored')                      AS ignored,
  COUNT(*) FILTER (WHERE outcome = 'converted')                    AS converted,
  AVG(CASE WHEN outcome IN ('accepted', 'converted') THEN 1.0E0 ELSE 0.0E0 END) AS acceptance_rate,
  AVG(CASE WHEN outcome = 'converted' THEN 1.0E0 ELSE 0.0E0 END)                AS conversion_rate
FROM resolved_outcomes
GROUP BY action, segment, window_start, window_end;
