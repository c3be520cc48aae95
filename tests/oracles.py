"""Independent batch computations of what the jobs compute in streaming, with pandas.

These do not share code with the jobs: the windows are enumerated by arithmetic here, not by
Flink's window assigner, so a disagreement points at one of them.
"""

from __future__ import annotations

import pandas as pd

MINUTE_MS = 60_000


def hop_signals(events: list[dict], size_ms: int = 5 * MINUTE_MS, slide_ms: int = MINUTE_MS) -> pd.DataFrame:
    """Per customer and HOP window (size, slide, aligned to the epoch), the columns of cx.signals."""
    rows = []
    for e in events:
        t = e["event_time"]
        last_start = t - t % slide_ms
        for k in range(size_ms // slide_ms):
            start = last_start - k * slide_ms
            rows.append({**e, "window_start": start, "window_end": start + size_ms})
    df = pd.DataFrame(rows)
    amt = df["amount"].fillna(0.0)
    et = df["event_type"]
    df["cart_delta"] = amt.where(et == "add_to_cart", 0.0) - amt.where(et == "remove_from_cart", 0.0)
    df["purchase_amt"] = amt.where(et == "purchase", 0.0)
    for name, etype in (("page_views", "page_view"), ("product_views", "product_view"), ("searches", "search"),
                        ("add_to_carts", "add_to_cart"), ("remove_from_carts", "remove_from_cart"),
                        ("checkout_starts", "checkout_start"), ("purchases", "purchase"),
                        ("rage_clicks", "rage_click"), ("errors", "error")):
        df[name] = (et == etype).astype("int64")
    g = df.groupby(["customer_id", "window_start", "window_end"])
    out = g.agg(
        event_count=("event_id", "size"), page_views=("page_views", "sum"), product_views=("product_views", "sum"),
        searches=("searches", "sum"), add_to_carts=("add_to_carts", "sum"),
        remove_from_carts=("remove_from_carts", "sum"), checkout_starts=("checkout_starts", "sum"),
        purchases=("purchases", "sum"), rage_clicks=("rage_clicks", "sum"), errors=("errors", "sum"),
        distinct_items=("item_id", "nunique"), distinct_channels=("channel", "nunique"),
        cart_value=("cart_delta", "sum"), purchase_value=("purchase_amt", "sum"),
        first_event_time=("event_time", "min"), last_event_time=("event_time", "max"),
    ).reset_index()
    out.insert(1, "window_kind", "hop_5m_1m")
    return out
