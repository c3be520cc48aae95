-- Sentiment by agent: how customers feel in conversations each agent handles.
--
-- Run:  cxstream sql sql/examples/sentiment_by_agent.sql --bounded
--
-- Reads the `sentiment` output of the sentiment job (topic cx.sentiment): VADER compound scores
-- (-1 very negative .. +1 very positive) of customer turns, aggregated per scope and window.

SELECT
  scope_id                                              AS agent_id,
  SUM(message_count)                                    AS customer_turns,
  -- Each window carries a mean; weight it by its turns so the result is the mean over turns.
  SUM(mean_compound * message_count) / SUM(message_count) AS mean_sentiment,
  MIN(min_compound)                                     AS worst_turn,
  SUM(negative_share * message_count)                   AS negative_turns
FROM sentiment
WHERE `scope` = 'agent'   -- scope is a reserved word in Flink SQL: quote it with backticks
  -- The job's windows are 5 minutes long and slide every minute (HOP), so each turn is in five of
  -- them. Keep the windows starting on a multiple of 5 minutes: they tile time, and each turn is
  -- counted exactly once.
  AND MOD(EXTRACT(MINUTE FROM window_start), 5) = 0
GROUP BY scope_id;
