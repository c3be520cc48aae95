"""Alert deduplication: per-window evaluations → one open alert per (kind, subject), then resolved.

SQL evaluates each alert condition once per window and subject (sql/alerts.sql, sql/quality.sql)
and says whether it is breached. Writing every breach as its own alert would page on-call once a
minute for one ongoing problem, so this keyed stage keeps, per (kind, subject), whether an alert is
open, how many windows breached since it opened, and when it was first and last seen:

- a breach while closed opens the alert (count 1, first_seen = last_seen = the window's end);
- a breach while open counts (count + 1, last_seen moves; the record on the upsert topic is
  replaced, so a consumer sees one alert with a growing count, never a new one);
- `resolve_after` clean windows in a row while open resolve it (state `resolved`, same count and
  first/last seen, the clean window's numbers); the next breach opens a fresh alert;
- an evaluation for a window that is not newer than the last one seen for the key (a replayed
  upstream record, a duplicate on an upsert topic) changes nothing.

Which views it deduplicates: every temporary view whose name ends in ``alert_evaluations`` that this
pipeline has not seen yet. jobs/quality.py and jobs/alerts.py each define one (via their
sql_before_stream), and in the suite both run in one pipeline, so each call handles its own.
"""

from __future__ import annotations

from typing import Any

EVALUATION_SUFFIX = "alert_evaluations"
# Columns of an evaluations view, in this order (sql/alerts.sql, sql/quality.sql).
EVALUATION_COLUMNS = ("kind", "subject", "severity", "breached", "observed", "threshold", "detail",
                      "window_start_ms", "window_end_ms")
ALERT_COLUMNS = ("kind", "subject", "severity", "state", "observed", "threshold", "detail",
                 "window_start_ms", "window_end_ms", "count", "first_seen_ms", "last_seen_ms")


class AlertState:
    """What is remembered per (kind, subject); plain data so it pickles into Flink state."""

    __slots__ = ("open", "count", "first_seen", "last_seen", "last_window_end", "clean")

    def __init__(self) -> None:
        self.open = False
        self.count = 0
        self.first_seen = 0
        self.last_seen = 0
        self.last_window_end: int | None = None
        self.clean = 0

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, values: tuple) -> None:
        for s, v in zip(self.__slots__, values, strict=True):
            setattr(self, s, v)


def step(state: AlertState, evaluation: dict[str, Any], resolve_after: int) -> dict[str, Any] | None:
    """Apply one window's evaluation to a key's state; the alert record to write, or None.

    Pure (no Flink), so the rules above are readable in one place and testable without a job.
    """
    end = evaluation["window_end_ms"]
    if state.last_window_end is not None and end <= state.last_window_end:
        return None
    state.last_window_end = end
    if evaluation["breached"]:
        if not state.open:
            state.open, state.count, state.first_seen = True, 0, end
        state.count += 1
        state.last_seen = end
        state.clean = 0
        return _record(evaluation, "open", state)
    if not state.open:
        return None
    state.clean += 1
    if state.clean < resolve_after:
        return None
    state.open = False
    state.clean = 0
    return _record(evaluation, "resolved", state)


def _record(evaluation: dict[str, Any], status: str, state: AlertState) -> dict[str, Any]:
    out = {k: evaluation[k] for k in ALERT_COLUMNS if k in evaluation}
    out.update(state=status, count=state.count, first_seen_ms=state.first_seen, last_seen_ms=state.last_seen)
    return out


def build(pipeline) -> None:  # noqa: ANN001 - a cxstream.runtime.Pipeline
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction, RuntimeContext
    from pyflink.datastream.state import ValueStateDescriptor

    from cxstream import alert_rules

    resolve_after = int(alert_rules.load()["resolve_after"])
    t_env = pipeline.t_env
    done: set[str] = pipeline.__dict__.setdefault("_alert_evaluation_views", set())
    views = [v for v in t_env.list_temporary_views() if v.endswith(EVALUATION_SUFFIX) and v not in done]

    alert_type = Types.ROW_NAMED(list(ALERT_COLUMNS), [
        Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING(), Types.DOUBLE(), Types.DOUBLE(),
        Types.STRING(), Types.LONG(), Types.LONG(), Types.LONG(), Types.LONG(), Types.LONG()])

    class Deduplicate(KeyedProcessFunction):
        def __init__(self, resolve_after: int) -> None:
            self.resolve_after = resolve_after
            self.state = None

        def open(self, runtime_context: RuntimeContext) -> None:
            self.state = runtime_context.get_state(ValueStateDescriptor("alert", Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, value, ctx):  # noqa: ANN001, ANN201 - Flink's signature
            evaluation = dict(zip(EVALUATION_COLUMNS, value, strict=True))
            state = self.state.value() or AlertState()
            record = step(state, evaluation, self.resolve_after)
            self.state.update(state)
            if record is not None:
                yield Row(*[record.get(c) for c in ALERT_COLUMNS])

    for view in views:
        done.add(view)
        columns = ", ".join(f"`{c}`" for c in EVALUATION_COLUMNS)
        stream = t_env.to_data_stream(t_env.sql_query(f"SELECT {columns} FROM `{view}`"))
        alerts = (stream
                  .key_by(lambda row: f"{row[0]}\u241f{row[1]}", key_type=Types.STRING())
                  .process(Deduplicate(resolve_after), output_type=alert_type)
                  .name(f"deduplicate {view}"))
        updates = view.removesuffix(EVALUATION_SUFFIX) + "alert_updates"
        t_env.create_temporary_view(updates, t_env.from_data_stream(alerts))
        pipeline.add_sql_file("alert_publish.sql", ({"updates": updates},))
