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
SELECT o.event_time AS outcome_time, o.outcome, d.action, COALESCE(d.segment, 'unknown') AS segment
FROM outcomes AS o
JOIN nba_decisions AS d
  ON o.trigger_id = d.trigger_id AND o.customer_id = d.customer_id
 AND o.event_time BETWEEN d.rowtime AND d.rowtime + INTERVAL '1' DAY;


-- Acceptance and conversion per action and segment, per 15 minutes of outcome event time: what the
-- routing and the rules' values can be tuned against (and what fairness across segments is
-- monitored on).
INSERT INTO action_feedback
SELECT
  action,
  segment,
  CAST(window_start AS TIMESTAMP_LTZ(3))                           AS window_start,
  CAST(window_end AS TIMESTAMP_LTZ(3))                             AS window_end,
  COUNT(*)                                                         AS outcomes,
  COUNT(*) FILTER (WHERE outcome = 'accepted')                     AS accepted,
  COUNT(*) FILTER (WHERE outcome = 'dismissed')                    AS dismissed,
  COUNT(*) FILTER (WHERE outcome = 'ignored')                      AS ignored,
  COUNT(*) FILTER (WHERE outcome = 'converted')                    AS converted,
  AVG(CASE WHEN outcome IN ('accepted', 'converted') THEN 1.0E0 ELSE 0.0E0 END) AS acceptance_rate,
  AVG(CASE WHEN outcome = 'converted' THEN 1.0E0 ELSE 0.0E0 END)                AS conversion_rate
FROM TABLE(TUMBLE(TABLE resolved_outcomes, DESCRIPTOR(outcome_time), INTERVAL '15' MINUTE))
GROUP BY action, segment, window_start, window_end;
