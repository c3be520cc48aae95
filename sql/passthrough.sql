-- Copy every valid interaction to the benchmark's pass-through topic, unchanged.
-- The baseline against which the analytics jobs' throughput and latency are compared.
INSERT INTO passthrough
SELECT event_id, customer_id, session_id, channel, event_type, item_id, amount, currency, event_time
FROM interactions;
