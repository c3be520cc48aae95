-- Copy every valid input record to its pass-through topic, unchanged.
-- The baseline against which the analytics jobs' throughput and latency are compared, and the
-- witness of the fuzz test: whatever is valid comes out here, whatever is not is in cx.dlq.
INSERT INTO interaction_copy
SELECT event_id, customer_id, session_id, channel, event_type, item_id, amount, currency, event_time, segment
FROM interactions;

INSERT INTO message_copy
SELECT message_id, conversation_id, customer_id, agent_id, channel, sender, text, event_time
FROM messages;

INSERT INTO context_copy
SELECT context_id, context_type, customer_id, subject_key, severity, attributes, event_time
FROM context_events;

INSERT INTO outcome_copy
SELECT trigger_id, customer_id, outcome, event_time
FROM outcomes;
