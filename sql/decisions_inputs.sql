-- The decisions job's input: every valid, on-time event that can change what is best to do for a
-- customer, normalised into one stream (one row type) so one keyed function sees them in order of
-- arrival. Runs before the stream stage (udfs/decisions_stage.py), which reads decision_inputs.
--
-- Reads:  interactions, messages, context_events, outcomes (valid, on-time rows)
-- Defines: route_bookings, cart_items, subject_context, context_fanout_joined (and context_fanout,
--          the same rows in event time: jobs/decisions.py event_time_views), decision_inputs
--
-- No windows here: the decision latency target is per event (event -> trigger p99 <= 300 ms), so
-- every row goes straight to the keyed state. kind says which input a row came from; the columns
-- that do not apply to a kind are NULL.
--
-- clock_ms is how far the row moves the event-time clock: LEAST(event_time, kafka_timestamp) in
-- epoch milliseconds, the value each source's watermark is derived from (cxstream/ddl.py). The
-- stage keeps the largest it has seen, so that at the end of a bounded input it knows how far the
-- input itself reached in event time, which the watermark sequence does not say reliably (see
-- udfs/decisions_stage.py). Millisecond epochs are written EXTRACT(EPOCH ...) * 1000 +
-- EXTRACT(MILLISECOND ...): Flink 2.3 casts no timestamp to a number.


-- Context about a route or an item (subject_key set, customer_id NULL) concerns every customer who
-- is a member of that subject, and membership is read from the interactions themselves (the
-- convention is written down in schemas/interaction.avsc and the README):
--   * a flight booking is a purchase whose item_id is the route key, ORIGIN-DESTINATION in IATA
--     codes (LHR-JFK), the key a route-keyed flight_delay carries: such a delay concerns the
--     customers who booked that route in the 7 days before it (a booking older than that is taken
--     to have flown: the bound is what this job can hold in state, not airline knowledge);
--   * an item in a cart is an add_to_cart of that item_id: a stock_low or price_change about the
--     item concerns the customers who put it in a cart in the hour before it (a removal or purchase
--     since is not subtracted: an insert-only join cannot take a member back).
-- Outages (keyed by a channel or service) and segment keys are not fanned out: they concern every
-- customer of a channel or segment, and no event names those members short of all the traffic.
--
-- member_at and context_at are plain timestamps, not event-time attributes, on purpose: with time
-- attributes on both sides the planner turns the join below into an interval join, which holds the
-- watermark back by its interval (7 days) and would stall the decisions stage's event-time timers
-- (cart_idle, pending outcomes) for as long.
CREATE TEMPORARY VIEW route_bookings AS
SELECT item_id AS subject_key, customer_id, CAST(event_time AS TIMESTAMP(3)) AS member_at
FROM interactions
WHERE event_type = 'purchase' AND REGEXP(item_id, '^[A-Z]{3}-[A-Z]{3}$');

CREATE TEMPORARY VIEW cart_items AS
SELECT item_id AS subject_key, customer_id, CAST(event_time AS TIMESTAMP(3)) AS member_at
FROM interactions
WHERE event_type = 'add_to_cart' AND item_id IS NOT NULL;

CREATE TEMPORARY VIEW subject_context AS
SELECT context_id, context_type, subject_key, severity, attributes, event_time,
       CAST(event_time AS TIMESTAMP(3)) AS context_at,
       EXTRACT(EPOCH FROM LEAST(event_time, kafka_timestamp)) * 1000
       + EXTRACT(MILLISECOND FROM LEAST(event_time, kafka_timestamp)) AS clock_ms
FROM context_events
WHERE customer_id IS NULL AND subject_key IS NOT NULL;


-- One row per subject-keyed context event and member, emitted the moment the context arrives (its
-- members are already in the join's state; a member read after the context, from another topic
-- read at another pace, is matched when it arrives). A customer with two bookings of the route, or
-- an at-least-once copy of one, gives two rows: the stage applies each context event once per
-- customer (udfs/nba_rules.py CustomerContext.apply).
--
-- Bounded state (STATE_TTL, per side of each join; Flink's state TTL counts processing time):
--   members:  7 days (bookings) and 1 hour (cart items), the membership bounds above;
--   contexts: 1 hour, for members that are read after the context (a replay reads each topic at its
--             own pace); the WHERE clause keeps anyone who became a member after the context out.
-- The WHERE clause states the same bounds in event time, so the answer does not depend on how fast
-- the input was read (a replay decides as the live run did); the TTLs only bound the memory.
CREATE TEMPORARY VIEW context_fanout_joined AS
SELECT /*+ STATE_TTL('c' = '1h', 'b' = '7d') */
       'context' AS kind, b.customer_id, c.context_id AS event_id, c.event_time,
       CAST(NULL AS STRING) AS event_type, CAST(NULL AS DOUBLE) AS amount, CAST(NULL AS STRING) AS segment,
       CAST(NULL AS STRING) AS conversation_id, CAST(NULL AS STRING) AS text,
       c.context_type, c.severity, c.attributes,
       CAST(NULL AS STRING) AS outcome, CAST(NULL AS STRING) AS trigger_id, c.clock_ms
FROM subject_context AS c
JOIN route_bookings AS b ON b.subject_key = c.subject_key
WHERE c.context_type = 'flight_delay'
  AND b.member_at BETWEEN c.context_at - INTERVAL '7' DAY AND c.context_at
UNION ALL
SELECT /*+ STATE_TTL('c' = '1h', 'i' = '1h') */
       'context', i.customer_id, c.context_id, c.event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS STRING),
       c.context_type, c.severity, c.attributes,
       CAST(NULL AS STRING), CAST(NULL AS STRING), c.clock_ms
FROM subject_context AS c
JOIN cart_items AS i ON i.subject_key = c.subject_key
WHERE c.context_type IN ('stock_low', 'price_change')
  AND i.member_at BETWEEN c.context_at - INTERVAL '1' HOUR AND c.context_at;
-- (A regular join keeps no time attribute: the job registers context_fanout, these rows with
-- event_time as their event time again and the watermark unchanged, right after this statement.)


CREATE TEMPORARY VIEW decision_inputs AS
SELECT 'interaction' AS kind, customer_id, event_id, event_time,
       event_type, amount, segment,
       CAST(NULL AS STRING) AS conversation_id, CAST(NULL AS STRING) AS text,
       CAST(NULL AS STRING) AS context_type, CAST(NULL AS STRING) AS severity,
       CAST(NULL AS MAP<STRING, STRING>) AS attributes,
       CAST(NULL AS STRING) AS outcome, CAST(NULL AS STRING) AS trigger_id,
       EXTRACT(EPOCH FROM LEAST(event_time, kafka_timestamp)) * 1000
       + EXTRACT(MILLISECOND FROM LEAST(event_time, kafka_timestamp)) AS clock_ms
FROM interactions
-- Only the interactions a rule feature is built from (the cart, checkout and purchase, friction):
-- page views, searches and clicks, most of the traffic, cannot change any decision, and every row
-- that reaches the stream stage costs a trip through Python.
WHERE event_type IN ('add_to_cart', 'remove_from_cart', 'checkout_start', 'purchase', 'rage_click', 'error')
UNION ALL
-- Customer turns only, as in sql/sentiment.sql: the question is how the customer feels; agents' and
-- bots' turns are scripted politeness. The text goes to the stream stage, which scores it with VADER
-- (udfs/sentiment.py, the sentiment job's own scoring) as the row arrives: a vectorised UDF here
-- would hold each turn for its batch and hand it to a Python worker and back first.
SELECT 'message', customer_id, message_id, event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       conversation_id, text,
       CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS MAP<STRING, STRING>),
       CAST(NULL AS STRING), CAST(NULL AS STRING),
       EXTRACT(EPOCH FROM LEAST(event_time, kafka_timestamp)) * 1000
       + EXTRACT(MILLISECOND FROM LEAST(event_time, kafka_timestamp))
FROM messages
WHERE sender = 'customer'
UNION ALL
-- Context about one customer (a delayed flight or order on their booking).
SELECT 'context', customer_id, context_id, event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS STRING),
       context_type, severity, attributes,
       CAST(NULL AS STRING), CAST(NULL AS STRING),
       EXTRACT(EPOCH FROM LEAST(event_time, kafka_timestamp)) * 1000
       + EXTRACT(MILLISECOND FROM LEAST(event_time, kafka_timestamp))
FROM context_events
WHERE customer_id IS NOT NULL
UNION ALL
-- Context about a route or an item, once per member (context_fanout_joined above).
SELECT kind, customer_id, event_id, event_time, event_type, amount, segment, conversation_id, text,
       context_type, severity, attributes, outcome, trigger_id, clock_ms
FROM context_fanout
UNION ALL
-- What happened to earlier triggers: feedback for the cool-downs.
SELECT 'outcome', customer_id, CONCAT(trigger_id, '/', outcome), event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS MAP<STRING, STRING>),
       outcome, trigger_id,
       EXTRACT(EPOCH FROM LEAST(event_time, kafka_timestamp)) * 1000
       + EXTRACT(MILLISECOND FROM LEAST(event_time, kafka_timestamp))
FROM outcomes;
