"""Independent batch computations of what the jobs compute in streaming, with pandas.

These do not share code with the jobs: the windows are enumerated by arithmetic here, not by
Flink's window assigner, so a disagreement points at one of them.
"""

from __future__ import annotations

import pandas as pd

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SESSION_GAP_MS = 10 * MINUTE_MS


def _fixed_windows(t: int, size_ms: int, slide_ms: int) -> list[tuple[int, int]]:
    """Every [start, end) of a window of size_ms every slide_ms (epoch-aligned) that contains t."""
    last_start = t - t % slide_ms
    return [(last_start - k * slide_ms, last_start - k * slide_ms + size_ms) for k in range(size_ms // slide_ms)]


def _cumulative_windows(t: int, step_ms: int, max_ms: int) -> list[tuple[int, int]]:
    """Every [period start, period start + k*step) that contains t."""
    start = t - t % max_ms
    return [(start, start + k * step_ms) for k in range(1, max_ms // step_ms + 1) if start + k * step_ms > t]


def _chained(events: list[dict]) -> pd.DataFrame:
    """Events with the customer's previous event, in event-time order.

    Events of one customer with the same event time all get the same predecessor: the last-but-one
    of everything up to and including their group, in production order (SQL RANGE semantics).
    """
    df = pd.DataFrame(events)
    df["seq"] = range(len(df))
    df = df.sort_values(["customer_id", "event_time", "seq"], kind="stable").reset_index(drop=True)
    prev_channel: list[object] = [None] * len(df)
    prev_time: list[float] = [float("nan")] * len(df)
    for _, g in df.groupby("customer_id", sort=False):
        positions = g.index.tolist()
        times = g["event_time"].tolist()
        i = 0
        while i < len(positions):
            j = i
            while j < len(positions) and times[j] == times[i]:
                j += 1
            if j >= 2:  # the group is positions[i:j]; its predecessor is the row at j - 2
                for k in positions[i:j]:
                    prev_channel[k] = df.at[positions[j - 2], "channel"]
                    prev_time[k] = times[j - 2]
            i = j
    df["prev_channel"] = prev_channel
    df["dwell_ms"] = df["event_time"] - pd.Series(prev_time)
    df["channel_switch"] = (df["prev_channel"].notna() & (df["prev_channel"] != df["channel"])).astype("int64")
    return df


def _session_windows(df: pd.DataFrame) -> pd.Series:
    """Per event, the (start, end) of its session: a gap of SESSION_GAP_MS or more starts a new one."""
    bounds = pd.Series(index=df.index, dtype=object)
    for _, g in df.groupby("customer_id"):
        times = g["event_time"].tolist()
        idx = g.index.tolist()
        begin = 0
        for i in range(1, len(times) + 1):
            if i == len(times) or times[i] - times[i - 1] >= SESSION_GAP_MS:
                window = (times[begin], times[i - 1] + SESSION_GAP_MS)
                for j in idx[begin:i]:
                    bounds[j] = window
                begin = i
    return bounds


def signals(events: list[dict], kinds: tuple[str, ...] = ("tumble_1m", "hop_5m_1m", "hop_1h_5m", "session_10m",
                                                          "cumulate_1d_1h")) -> pd.DataFrame:
    """Per customer, window kind and window, the columns of cx.signals."""
    df = _chained(events)
    assigners = {
        "tumble_1m": lambda t: _fixed_windows(t, MINUTE_MS, MINUTE_MS),
        "hop_5m_1m": lambda t: _fixed_windows(t, 5 * MINUTE_MS, MINUTE_MS),
        "hop_1h_5m": lambda t: _fixed_windows(t, HOUR_MS, 5 * MINUTE_MS),
        "cumulate_1d_1h": lambda t: _cumulative_windows(t, HOUR_MS, DAY_MS),
    }
    sessions = _session_windows(df)
    parts = []
    for kind in kinds:
        if kind == "session_10m":
            windows = sessions.map(lambda w: [w])
        else:
            windows = df["event_time"].map(assigners[kind])
        exploded = df.assign(window=windows).explode("window")
        exploded["window_start"] = exploded["window"].map(lambda w: w[0])
        exploded["window_end"] = exploded["window"].map(lambda w: w[1])
        exploded["window_kind"] = kind
        parts.append(exploded)
    return _aggregate(pd.concat(parts, ignore_index=True))


def _aggregate(df: pd.DataFrame) -> pd.DataFrame:
    amt = df["amount"].fillna(0.0)
    et = df["event_type"]
    df["cart_delta"] = amt.where(et == "add_to_cart", 0.0) - amt.where(et == "remove_from_cart", 0.0)
    df["purchase_amt"] = amt.where(et == "purchase", 0.0)
    df["cart_activity"] = et.isin(["add_to_cart", "remove_from_cart", "checkout_start"]).astype("int64")
    for name, etype in (("page_views", "page_view"), ("product_views", "product_view"), ("searches", "search"),
                        ("add_to_carts", "add_to_cart"), ("remove_from_carts", "remove_from_cart"),
                        ("checkout_starts", "checkout_start"), ("purchases", "purchase"),
                        ("rage_clicks", "rage_click"), ("errors", "error")):
        df[name] = (et == etype).astype("int64")
    g = df.groupby(["customer_id", "window_kind", "window_start", "window_end"])
    out = g.agg(
        event_count=("event_id", "size"), page_views=("page_views", "sum"), product_views=("product_views", "sum"),
        searches=("searches", "sum"), add_to_carts=("add_to_carts", "sum"),
        remove_from_carts=("remove_from_carts", "sum"), checkout_starts=("checkout_starts", "sum"),
        purchases=("purchases", "sum"), rage_clicks=("rage_clicks", "sum"), errors=("errors", "sum"),
        distinct_items=("item_id", "nunique"), distinct_channels=("channel", "nunique"),
        cart_value=("cart_delta", "sum"), purchase_value=("purchase_amt", "sum"),
        first_event_time=("event_time", "min"), last_event_time=("event_time", "max"),
        mean_dwell_ms=("dwell_ms", "mean"), channel_switches=("channel_switch", "sum"),
        cart_activity=("cart_activity", "sum"),
    ).reset_index()
    adds = out["add_to_carts"]
    out["conversion_rate"] = (out["purchases"] / adds).where(adds > 0)
    out["rage_click_rate"] = out["rage_clicks"] / out["event_count"]
    out["error_rate"] = out["errors"] / out["event_count"]
    out["recency_ms"] = out["window_end"] - out["last_event_time"]
    is_session = out["window_kind"].str.startswith("session")
    abandoned = (out["cart_activity"] > 0) & (out["purchases"] == 0)
    out["cart_abandoned"] = abandoned.astype(object).where(is_session, None)
    return out.drop(columns=["cart_activity"])


def sentiment(messages: list[dict]) -> pd.DataFrame:
    """Per scope (conversation, customer, agent, channel) and HOP 5 min / 1 min window, cx.sentiment.

    Scores customer turns with vaderSentiment directly (the model is the same; the windows, history
    and aggregates are computed here independently).
    """
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    df = pd.DataFrame([m for m in messages if m["sender"] == "customer"])
    df["seq"] = range(len(df))
    df["compound"] = [analyzer.polarity_scores(t)["compound"] if t else 0.0 for t in df["text"]]
    df = df.sort_values(["conversation_id", "event_time", "seq"], kind="stable").reset_index(drop=True)
    by_conversation = df.groupby("conversation_id")["compound"]
    prev1, prev2 = by_conversation.shift(1), by_conversation.shift(2)
    neg = -0.05
    df["third_negative"] = ((df["compound"] <= neg) & (prev1 <= neg) & (prev2 <= neg)).astype(int)
    turns = by_conversation.cumcount() + 1
    earlier_mean = (by_conversation.cumsum() - df["compound"]) / (turns - 1).where(turns > 1)
    df["sharp_drop"] = ((turns > 1) & (df["compound"] <= earlier_mean - 0.6)).astype(int)
    rows = []
    for _, e in df.iterrows():
        for start, end in _fixed_windows(int(e["event_time"]), 5 * MINUTE_MS, MINUTE_MS):
            for scope, column in (("conversation", "conversation_id"), ("customer", "customer_id"),
                                  ("agent", "agent_id"), ("channel", "channel")):
                if e[column] is None or (isinstance(e[column], float) and pd.isna(e[column])):
                    continue
                rows.append({"scope": scope, "scope_id": e[column], "window_start": start, "window_end": end,
                             "customer_id": e["customer_id"], "compound": e["compound"],
                             "t_min": (e["event_time"] - start) / 60000.0, "third_negative": e["third_negative"],
                             "sharp_drop": e["sharp_drop"]})
    out = []
    for (scope, scope_id, start, end), g in pd.DataFrame(rows).groupby(["scope", "scope_id", "window_start",
                                                                         "window_end"]):
        n, x, y = len(g), g["t_min"], g["compound"]
        denominator = n * (x * x).sum() - x.sum() ** 2
        slope = (n * (x * y).sum() - x.sum() * y.sum()) / denominator if n > 1 and denominator > 1e-12 else None
        escalation = ("three consecutive negative turns" if g["third_negative"].max() == 1
                      else "sharp drop below the conversation's baseline" if g["sharp_drop"].max() == 1 else None)
        out.append({"scope": scope, "scope_id": scope_id, "window_start": start, "window_end": end,
                    "customer_id": g["customer_id"].max() if scope in ("conversation", "customer") else None,
                    "message_count": n, "mean_compound": y.mean(), "min_compound": y.min(),
                    "negative_share": (y <= neg).mean(), "trend_slope": slope, "escalation": escalation})
    return pd.DataFrame(out)
