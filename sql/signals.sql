-- Behavioural signals per customer, in event time.
--
-- Reads:  interactions  (valid rows of cx.events.interactions; invalid ones were routed to cx.dlq)
-- Writes: signals       (cx.signals, upsert on customer_id + window_kind + window bounds)
--
-- A sliding 5-minute window that advances every minute (HOP): each customer gets a fresh view of
-- their last five minutes once a minute. A window fires when the watermark passes its end, i.e.
-- once events 5 s (the profile's out-of-orderness bound) past the window end have been seen.
-- Window bounds are computed in UTC (the jobs set table.local-time-zone = 'UTC').

INSERT INTO signals
SELECT
  customer_id,
  'hop_5m_1m'                                                     AS window_kind,
  CAST(window_start AS TIMESTAMP_LTZ(3))                          AS window_start,
  CAST(window_end AS TIMESTAMP_LTZ(3))                            AS window_end,
  COUNT(*)                                                        AS event_count,
  COUNT(*) FILTER (WHERE event_type = 'page_view')                AS page_views,
  COUNT(*) FILTER (WHERE event_type = 'product_view')             AS product_views,
  COUNT(*) FILTER (WHERE event_type = 'search')                   AS searches,
  COUNT(*) FILTER (WHERE event_type = 'add_to_cart')              AS add_to_carts,
  COUNT(*) FILTER (WHERE event_type = 'remove_from_cart')         AS remove_from_carts,
  COUNT(*) FILTER (WHERE event_type = 'checkout_start')           AS checkout_starts,
  COUNT(*) FILTER (WHERE event_type = 'purchase')                 AS purchases,
  COUNT(*) FILTER (WHERE event_type = 'rage_click')               AS rage_clicks,
  COUNT(*) FILTER (WHERE event_type = 'error')                    AS errors,
  COUNT(DISTINCT item_id)                                         AS distinct_items,
  COUNT(DISTINCT channel)                                         AS distinct_channels,
  SUM(CASE event_type
        WHEN 'add_to_cart'      THEN COALESCE(amount, 0.0)
        WHEN 'remove_from_cart' THEN -COALESCE(amount, 0.0)
        ELSE 0.0 END)                                             AS cart_value,
  SUM(CASE WHEN event_type = 'purchase' THEN COALESCE(amount, 0.0) ELSE 0.0 END) AS purchase_value,
  MIN(event_time)                                                 AS first_event_time,
  MAX(event_time)                                                 AS last_event_time
FROM TABLE(
  HOP(TABLE interactions, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)
)
GROUP BY customer_id, window_start, window_end;
