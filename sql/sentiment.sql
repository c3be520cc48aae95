-- Sentiment of customer turns, aggregated per conversation, customer, agent and channel.
--
-- Reads:  messages   (valid, on-time rows of cx.events.messages)
-- Writes: sentiment  (cx.sentiment, upsert on scope + scope_id + window_start + window_end)
--
-- Only the customer's own turns are scored: the question is how the customer feels; agents' and
-- bots' turns are scripted politeness and would pull every score towards neutral. The model is VADER
-- (udfs/sentiment.py): compound score in [-1, 1], negative at <= -0.05.
--
-- The aggregate query at the bottom runs once per scope that jobs/sentiment.py declares
-- (${scope}, ${scope_id}) over a HOP window of 5 minutes sliding every t_min: a conversation's
-- mood over its last five minutes, refreshed every t_min.


-- Each customer turn with its score and the conversation's history up to it. Over event time with
-- RANGE semantics: turns with the same event time share one history (rare in a conversation).
CREATE TEMPORARY VIEW customer_turns AS
SELECT
  *,
  -- k = 3 consecutive negative turns in the conversation, ending at this one
  CASE WHEN compound <= -0.05 AND prev1 <= -0.05 AND prev2 <= -0.05 THEN 1 ELSE 0 END AS third_negative,
  -- this turn is 0.6 or more below the conversation's mean of its earlier turns (its own baseline)
  CASE WHEN turns > 1 AND compound <= (score_sum - compound) / (turns - 1) - 0.6 THEN 1 ELSE 0 END AS sharp_drop,
  EXTRACT(EPOCH FROM event_time) * 1000 + EXTRACT(MILLISECOND FROM event_time) AS event_ms
FROM (
  SELECT
    *,
    LAG(compound, 1) OVER w AS prev1,
    LAG(compound, 2) OVER w AS prev2,
    SUM(compound) OVER w    AS score_sum,
    COUNT(*) OVER w         AS turns
  FROM (
    SELECT *, vader_compound(text) AS compound FROM messages WHERE sender = 'customer'
  )
  WINDOW w AS (PARTITION BY conversation_id ORDER BY event_time)
);


INSERT INTO sentiment
SELECT
  '${scope}'                                                   AS `scope`,
  ${scope_id}                                                  AS scope_id,
  MAX(customer_id) FILTER (WHERE '${scope}' IN ('conversation', 'customer')) AS customer_id,
  CAST(window_start AS TIMESTAMP_LTZ(3))                       AS window_start,
  CAST(window_end AS TIMESTAMP_LTZ(3))                         AS window_end,
  COUNT(*)                                                     AS message_count,
  AVG(compound)                                                AS mean_compound,
  MIN(compound)                                                AS min_compound,
  AVG(CASE WHEN compound <= -0.05 THEN 1.0E0 ELSE 0.0E0 END)   AS negative_share,
  -- least-squares slope of the score against t_min (minutes since the window start); NULL with
  -- fewer than two turns or when they all share one instant
  CASE WHEN COUNT(*) > 1 AND COUNT(*) * SUM(t_min * t_min) - SUM(t_min) * SUM(t_min) > 1e-12
       THEN (COUNT(*) * SUM(t_min * compound) - SUM(t_min) * SUM(compound))
            / (COUNT(*) * SUM(t_min * t_min) - SUM(t_min) * SUM(t_min))
  END                                                          AS trend_slope,
  CASE WHEN MAX(third_negative) = 1 THEN 'three consecutive negative turns'
       WHEN MAX(sharp_drop) = 1 THEN 'sharp drop below the conversation''s baseline'
  END                                                          AS escalation
FROM (
  SELECT *, CAST(event_ms - EXTRACT(EPOCH FROM window_start) * 1000 AS DOUBLE) / 60000 AS t_min
  FROM TABLE(HOP(TABLE customer_turns, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))
  WHERE ${scope_id} IS NOT NULL
)
GROUP BY ${scope_id}, window_start, window_end;
