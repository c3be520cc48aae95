-- The decisions job's input: every valid, on-time event that can change what is best to do for a
-- customer, normalised into one stream (one row type) so one keyed function sees them in order of
-- arrival. Runs before the stream stage (udfs/decisions_stage.py), which reads decision_inputs.
--
-- Reads:  interactions, messages, context_events, outcomes (valid, on-time rows)
-- Defines: decision_inputs
--
-- No windows here: the decision latency target is per event (event -> trigger p99 <= 300 ms), so
-- every row goes straight to the keyed state. kind says which input a row came from; the columns
-- that do not apply to a kind are NULL.
CREATE TEMPORARY VIEW decision_inputs AS
SELECT 'interaction' AS kind, customer_id, event_id, event_time,
       event_type, amount, segment,
       CAST(NULL AS STRING) AS conversation_id, CAST(NULL AS DOUBLE) AS compound,
       CAST(NULL AS STRING) AS context_type, CAST(NULL AS STRING) AS severity,
       CAST(NULL AS MAP<STRING, STRING>) AS attributes,
       CAST(NULL AS STRING) AS outcome, CAST(NULL AS STRING) AS trigger_id
FROM interactions
-- Only the interactions a rule feature is built from (the cart, checkout and purchase, friction):
-- page views, searches and clicks, most of the traffic, cannot change any decision, and every row
-- that reaches the stream stage costs a trip through Python.
WHERE event_type IN ('add_to_cart', 'remove_from_cart', 'checkout_start', 'purchase', 'rage_click', 'error')
UNION ALL
-- Customer turns only, scored by VADER (udfs/sentiment.py), as in sql/sentiment.sql: the question
-- is how the customer feels; agents' and bots' turns are scripted politeness.
SELECT 'message', customer_id, message_id, event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       conversation_id, vader_compound(text),
       CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS MAP<STRING, STRING>),
       CAST(NULL AS STRING), CAST(NULL AS STRING)
FROM messages
WHERE sender = 'customer'
UNION ALL
-- Context about one customer (a delayed flight or order on their booking). Context about a route,
-- an item or a channel (subject_key) concerns many customers and is not fanned out here.
SELECT 'context', customer_id, context_id, event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE),
       context_type, severity, attributes,
       CAST(NULL AS STRING), CAST(NULL AS STRING)
FROM context_events
WHERE customer_id IS NOT NULL
UNION ALL
-- What happened to earlier triggers: feedback for the cool-downs.
SELECT 'outcome', customer_id, CONCAT(trigger_id, '/', outcome), event_time,
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS DOUBLE),
       CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS MAP<STRING, STRING>),
       outcome, trigger_id
FROM outcomes;
