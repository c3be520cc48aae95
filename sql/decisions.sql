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
INSERT INTO action_feedback
SELECT
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
