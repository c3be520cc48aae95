-- Conversion by channel, every 10 minutes of event time.
--
-- Run:  cxstream sql sql/examples/conversion_by_channel.sql --bounded
--       cxstream sql sql/examples/conversion_by_channel.sql --into analyst.conversion
--                    (writes each finished window as a JSON record to topic analyst.conversion)
--
-- A window TVF (TUMBLE) groups events by the 10-minute slot their event_time falls in. A window's
-- row appears once the watermark passes its end (5 s after the latest event seen), and never
-- changes afterwards: such results are insert-only and can go straight to a topic.

SELECT
  window_start,
  window_end,
  channel,
  COUNT(DISTINCT session_id)                                                    AS sessions,
  COUNT(DISTINCT CASE WHEN event_type = 'purchase' THEN session_id END)         AS buying_sessions,
  -- Share of sessions with at least one purchase; CAST so that 3 / 4 is 0.75, not 0.
  CAST(COUNT(DISTINCT CASE WHEN event_type = 'purchase' THEN session_id END) AS DOUBLE)
    / COUNT(DISTINCT session_id)                                                AS conversion,
  -- Revenue of the purchases (NULL when there were none).
  SUM(CASE WHEN event_type = 'purchase' THEN amount END)                        AS revenue
FROM TABLE(TUMBLE(TABLE interactions, DESCRIPTOR(event_time), INTERVAL '10' MINUTE))
GROUP BY window_start, window_end, channel;
