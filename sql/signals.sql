-- Behavioural signals per customer, in event time.
--
-- Reads:  interactions  (valid, on-time rows of cx.events.interactions; invalid and late ones were
--                        routed to cx.dlq before they got here: see README "Lateness")
-- Writes: signals       (cx.signals, upsert on customer_id + window_kind + window_start + window_end)
--
-- The aggregate query at the bottom is written once and instantiated once per window kind that
-- jobs/signals.py declares (${window_kind}, ${window}):
--   tumble_1m       TUMBLE 1 min           per-minute counters
--   hop_5m_1m       HOP 5 min, slide 1 min the last five minutes, refreshed every minute
--   hop_1h_5m       HOP 1 h, slide 5 min   the last hour, refreshed every five minutes
--   session_10m     SESSION, gap 10 min    a journey: activity until ten minutes of silence
--   cumulate_1d_1h  CUMULATE 1 day, 1 h    day-to-date, refreshed every hour
-- A window fires when the watermark passes its end: 5 s (the profile's out-of-orderness bound)
-- after the first event past the window end. Window bounds are in UTC.


-- Each interaction with the customer's previous one, across channels: the journey chained
-- through web, app, kiosk, chat and call. LAG over event time is computed once the watermark has
-- passed the row, so the order is event-time order whatever the arrival order. Flink orders over
-- event time with RANGE semantics: rows of one customer with the same event time are aggregated
-- together, so all of them see the last-but-one of that group (in arrival order) as predecessor.
CREATE TEMPORARY VIEW interactions_chained AS
SELECT
  *,
  CASE WHEN prev_channel IS NOT NULL AND prev_channel <> channel THEN 1 ELSE 0 END AS channel_switch,
  event_ms - prev_event_ms                                            AS dwell_ms
FROM (
  SELECT
    *,
    LAG(channel) OVER w                                               AS prev_channel,
    LAG(event_ms) OVER w                                              AS prev_event_ms
  FROM (
    SELECT *, EXTRACT(EPOCH FROM event_time) * 1000 + EXTRACT(MILLISECOND FROM event_time) AS event_ms
    FROM interactions
  )
  WINDOW w AS (PARTITION BY customer_id ORDER BY event_time)
);


INSERT INTO signals
SELECT
  customer_id,
  '${window_kind}'                                                    AS window_kind,
  CAST(window_start AS TIMESTAMP_LTZ(3))                              AS window_start,
  CAST(window_end AS TIMESTAMP_LTZ(3))                                AS window_end,
  COUNT(*)                                                            AS event_count,
  COUNT(*) FILTER (WHERE event_type = 'page_view')                    AS page_views,
  COUNT(*) FILTER (WHERE event_type = 'product_view')                 AS product_views,
  COUNT(*) FILTER (WHERE event_type = 'search')                       AS searches,
  COUNT(*) FILTER (WHERE event_type = 'add_to_cart')                  AS add_to_carts,
  COUNT(*) FILTER (WHERE event_type = 'remove_from_cart')             AS remove_from_carts,
  COUNT(*) FILTER (WHERE event_type = 'checkout_start')               AS checkout_starts,
  COUNT(*) FILTER (WHERE event_type = 'purchase')                     AS purchases,
  COUNT(*) FILTER (WHERE event_type = 'rage_click')                   AS rage_clicks,
  COUNT(*) FILTER (WHERE event_type = 'error')                        AS errors,
  COUNT(DISTINCT item_id)                                             AS distinct_items,
  COUNT(DISTINCT channel)                                             AS distinct_channels,
  SUM(CASE event_type
        WHEN 'add_to_cart'      THEN COALESCE(amount, 0.0)
        WHEN 'remove_from_cart' THEN -COALESCE(amount, 0.0)
        ELSE 0.0 END)                                                 AS cart_value,
  SUM(CASE WHEN event_type = 'purchase' THEN COALESCE(amount, 0.0) ELSE 0.0 END) AS purchase_value,
  MIN(event_time)                                                     AS first_event_time,
  MAX(event_time)                                                     AS last_event_time,
  CAST(COUNT(*) FILTER (WHERE event_type = 'purchase') AS DOUBLE)
    / NULLIF(COUNT(*) FILTER (WHERE event_type = 'add_to_cart'), 0)   AS conversion_rate,
  CAST(COUNT(*) FILTER (WHERE event_type = 'rage_click') AS DOUBLE) / COUNT(*) AS rage_click_rate,
  CAST(COUNT(*) FILTER (WHERE event_type = 'error') AS DOUBLE) / COUNT(*)      AS error_rate,
  AVG(CAST(dwell_ms AS DOUBLE))                                       AS mean_dwell_ms,
  CAST(SUM(channel_switch) AS BIGINT)                                 AS channel_switches,
  EXTRACT(EPOCH FROM window_end) * 1000 + EXTRACT(MILLISECOND FROM window_end) - MAX(event_ms) AS recency_ms,
  CASE WHEN '${window_kind}' LIKE 'session%'
       THEN COUNT(*) FILTER (WHERE event_type IN ('add_to_cart', 'remove_from_cart', 'checkout_start')) > 0
            AND COUNT(*) FILTER (WHERE event_type = 'purchase') = 0
  END                                                                 AS cart_abandoned
FROM TABLE(${window})
GROUP BY customer_id, window_start, window_end;
