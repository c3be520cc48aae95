-- Top journeys: which step most often follows which, across every session.
--
-- Run:  cxstream sql sql/examples/top_journeys.sql --bounded      (what the topic holds now)
--       cxstream sql sql/examples/top_journeys.sql                (live: the ranking keeps moving)
--
-- Reads `interactions`: the valid, on-time interaction events (bad and late ones are already gone;
-- they are in `dlq`). One row per step of a journey: page_view, search, add_to_cart, purchase, ...

-- Pair every event with the one before it in the same session. LAG over event time orders the
-- session's events by when they happened, not by when they arrived (Kafka may reorder them).
CREATE TEMPORARY VIEW journey_steps AS
SELECT
  session_id,
  LAG(event_type) OVER (PARTITION BY session_id ORDER BY event_time) AS previous_step,
  event_type AS next_step
FROM interactions;

-- Count each (previous -> next) transition and keep the ten most frequent. This is a streaming
-- Top-N: while data arrives, a transition can enter or leave the ten, and the table updates.
SELECT previous_step, next_step, transitions
FROM (
  SELECT previous_step, next_step, transitions,
         ROW_NUMBER() OVER (ORDER BY transitions DESC) AS row_num
  FROM (
    SELECT previous_step, next_step, COUNT(*) AS transitions
    FROM journey_steps
    WHERE previous_step IS NOT NULL          -- a session's first event has no predecessor
    GROUP BY previous_step, next_step
  )
)
WHERE row_num <= 10;
