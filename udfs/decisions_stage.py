"""The decisions job's stream stage: per-customer context in keyed state, one decision per event.

decision_inputs (sql/decisions_inputs.sql) → key by customer_id → Decide (a KeyedProcessFunction
around udfs/nba_rules.py) → the view nba_decisions that sql/decisions.sql writes to cx.nba.triggers.

Why a DataStream function and not SQL: a customer's context (open cart, recent friction, the
conversation's mood, active context events, the triggers already sent and the feedback on them)
is one evolving state that every kind of event updates, and the decision has to be taken as each
event arrives (no window to wait for), with cool-downs that depend on earlier decisions.

Timers are event time:
- cart_idle: the cart's last activity + features.cart_idle. It fires when the watermark passes,
  i.e. when the whole input has moved past that point without any cart activity from the customer.
- outcome: an outcome whose trigger this function has not seen yet (the outcome came in on another
  topic ahead of the event that caused the trigger) waits: it is applied as soon as that trigger is
  issued, and dropped once the watermark passes its event time without it (by then every event
  that could have caused it has been decided: the outcome answers a trigger this job never issued).
- cleanup: a customer silent for features.state_ttl is forgotten.

At the end of a bounded input (and on a stop with --drain) Flink moves the watermark to Long.MAX
and fires every remaining timer. The end of the input is not silence: a timer fired by it acts only
if the input itself reached its time, i.e. if the largest clock_ms this stage has seen (the
LEAST(event_time, kafka_timestamp) each source's watermark is derived from) minus the watermark
delay is at or past it. Not the last watermark before Long.MAX: that value depends on wall-clock
timing (sources emit watermarks periodically, and whichever input finishes last decides how far the
others let the clock go), so a cart that went quiet minutes before the end of the input was decided
in one run and not in the next (measured: the last watermark before Long.MAX was 92 s behind the
end of the input in one run, 501 s in another). At the end of a bounded input every record has been
applied, so deciding then is as informed as deciding on time (a --drain stop knows only what was
read before it). Still timing-dependent: a deadline in the last moments of the input, after the last
row that reaches this stage (decision_inputs leaves out page views and the like) but within reach
of the last record read. With parallelism > 1 each subtask knows only its own keys' rows, and
input_clock_ms is not checkpointed (after a restore it counts the rows read since).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nba_rules import CustomerContext, Event, RuleSet, Trigger, decide, load_rules
from sentiment import compound_score

if TYPE_CHECKING:
    from cxstream.runtime import Pipeline

INPUT_VIEW = "decision_inputs"
OUTPUT_VIEW = "nba_decisions"
END_OF_INPUT = 2**63 - 1  # Long.MAX_VALUE: the watermark a bounded input ends with
TRIGGER_PATH_BUFFER_TIMEOUT_MS = 10  # network buffers on the way to the stage ship this often
HOUR_MS = 3_600_000

OUTPUT_FIELDS = ("trigger_id", "customer_id", "action", "route", "priority", "confidence", "reason_codes",
                 "evidence", "event_ms", "emit_ms", "segment", "value")


@dataclass
class StageState:
    """Everything kept per customer: the rule engine's context plus this stage's timer bookkeeping."""

    context: CustomerContext = field(default_factory=CustomerContext)
    cart_timer_ms: int | None = None
    cleanup_ms: int | None = None
    pending_outcomes: list[tuple[int, str, str]] = field(default_factory=list)  # (event ms, trigger id, outcome)


def to_event(row: Any, event_ms: int) -> Event:
    """A decision_inputs row as the rule engine's Event; a customer's turn is scored here (VADER),
    in this stage's thread, the moment it arrives (sql/decisions_inputs.sql says why not in SQL)."""
    return Event(kind=row["kind"], customer_id=row["customer_id"], event_id=row["event_id"], event_ms=event_ms,
                 event_type=row["event_type"], amount=row["amount"], segment=row["segment"],
                 conversation_id=row["conversation_id"],
                 compound=compound_score(row["text"]) if row["kind"] == "message" else None,
                 context_type=row["context_type"], severity=row["severity"], attributes=row["attributes"],
                 outcome=row["outcome"], trigger_id=row["trigger_id"])


def _output_row(trig: Trigger):  # noqa: ANN202 - a pyflink Row
    from pyflink.common import Row

    return Row(trig.trigger_id, trig.customer_id, trig.action, trig.route, trig.priority, trig.confidence,
               list(trig.reason_codes), dict(trig.evidence), trig.event_ms, int(time.time() * 1000),
               trig.segment, trig.value)


def _make_function(rules: RuleSet, watermark_delay_ms: int):  # noqa: ANN202 - a KeyedProcessFunction
    from pyflink.common import Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import ValueStateDescriptor

    settings = rules.features

    class Decide(KeyedProcessFunction):
        def __init__(self) -> None:
            self.rules = rules
            self.state = None
            self.input_clock_ms = -END_OF_INPUT  # the largest clock_ms seen (this subtask's rows)

        def open(self, runtime_context) -> None:  # noqa: ANN001
            self.state = runtime_context.get_state(ValueStateDescriptor("customer", Types.PICKLED_BYTE_ARRAY()))
            self.input_clock_ms = -END_OF_INPUT
            compound_score("warm")  # VADER's lexicon loads now (~50 ms), not at the first customer turn

        def reached(self, timestamp: int, ctx) -> bool:  # noqa: ANN001
            """Whether the input's event time got to `timestamp`: always for a timer fired by a real
            watermark; at the end of the input (Long.MAX), only if the input's own clock got there."""
            if ctx.timer_service().current_watermark() < END_OF_INPUT:
                return True
            return timestamp <= self.input_clock_ms - watermark_delay_ms

        def process_element(self, row, ctx):  # noqa: ANN001, ANN201
            clock = row["clock_ms"]
            if clock is not None and clock > self.input_clock_ms:
                self.input_clock_ms = clock
            st: StageState = self.state.value() or StageState()
            ev = to_event(row, ctx.timestamp())
            trig = None
            if ev.kind == "outcome":
                if ev.trigger_id and ev.outcome and \
                        st.context.record_outcome(ev.trigger_id, ev.outcome, rules.feedback) is None:
                    st.pending_outcomes.append((ev.event_ms, ev.trigger_id, ev.outcome))
                    ctx.timer_service().register_event_time_timer(ev.event_ms)
            elif st.context.apply(ev, settings):  # False: a context event this customer already has
                trig = decide(rules, st.context, ev.customer_id, ev.kind, ev.event_id, ev.event_ms)
                if trig is not None:
                    _settle_pending(st, trig)
                if ev.kind == "interaction" and st.context.last_cart_event_id == ev.event_id \
                        and st.context.cart_value > 0:
                    st.cart_timer_ms = ev.event_ms + settings.cart_idle_ms
                    ctx.timer_service().register_event_time_timer(st.cart_timer_ms)
            # Rounded up to the hour: one cleanup timer per customer and hour, not one per event.
            cleanup = -(-(st.context.last_event_ms + settings.state_ttl_ms) // HOUR_MS) * HOUR_MS
            if st.cleanup_ms is None or cleanup > st.cleanup_ms:
                st.cleanup_ms = cleanup
                ctx.timer_service().register_event_time_timer(cleanup)
            self.state.update(st)
            if trig is not None:
                yield _output_row(trig)

        def on_timer(self, timestamp: int, ctx):  # noqa: ANN001, ANN201
            st: StageState | None = self.state.value()
            if st is None or not self.reached(timestamp, ctx):
                return  # past the end of a bounded input: not silence, nothing is decided or forgotten
            trig = None
            if timestamp == st.cart_timer_ms:
                st.cart_timer_ms = None
                ctx_ = st.context
                if ctx_.cart_value > 0 and ctx_.last_cart_event_id is not None:
                    customer = ctx.get_current_key()
                    trig = decide(rules, ctx_, customer, "cart_idle", f"{ctx_.last_cart_event_id}/cart_idle",
                                  timestamp)
                    if trig is not None:
                        _settle_pending(st, trig)
            # Outcomes still waiting for their trigger once the watermark passed them answer a trigger
            # this job never issued: nothing to adjust.
            st.pending_outcomes = [p for p in st.pending_outcomes if p[0] > timestamp]
            if timestamp == st.cleanup_ms and not st.pending_outcomes:
                self.state.clear()
            else:
                self.state.update(st)
            if trig is not None:
                yield _output_row(trig)

    def _settle_pending(st: StageState, trig: Trigger) -> None:
        """Apply outcomes that arrived before the trigger they answer, now that it exists."""
        for p in [p for p in st.pending_outcomes if p[1] == trig.trigger_id]:
            st.context.record_outcome(p[1], p[2], rules.feedback)
            st.pending_outcomes.remove(p)

    return Decide()


def output_type():  # noqa: ANN201 - a pyflink TypeInformation
    from pyflink.common import Types

    return Types.ROW_NAMED(list(OUTPUT_FIELDS), [
        Types.STRING(), Types.STRING(), Types.STRING(), Types.STRING(), Types.INT(), Types.DOUBLE(),
        Types.BASIC_ARRAY(Types.STRING()), Types.MAP(Types.STRING(), Types.STRING()), Types.LONG(), Types.LONG(),
        Types.STRING(), Types.DOUBLE(),
    ])


def build(pipeline: Pipeline, rules_file: Path | None = None) -> None:
    """decision_inputs → keyed decisions → the view nba_decisions (rowtime = the trigger's event time)."""
    from cxstream import contracts
    from cxstream.paths import REPO_ROOT
    from cxstream.runtime import flush_upstream_every, keyed_by_column, python_thread_mode, register_stream_view

    context_types = contracts.load("context").field("context_type").allowed or ()
    # The project's copy, not one beside this module's __file__: in a process that already ran a job,
    # this module may have been imported from Flink's distributed cache, which holds udfs/ only.
    rules_file = rules_file or REPO_ROOT / "rules" / "nba.yaml"
    # Validated on the client: a bad rules file fails the build with the reason, before any job starts.
    rules = load_rules(rules_file, context_types=tuple(context_types))
    t_env = pipeline.t_env
    inputs = keyed_by_column(t_env, INPUT_VIEW, "customer_id", "event_time")
    # Measured, decisions alone at 300 events/s, event -> trigger p50/p95/p99: 157/304/372 ms with
    # buffers shipped every 100 ms, 60/148/207 ms every 10 ms (README, "Performance").
    flush_upstream_every(inputs, TRIGGER_PATH_BUFFER_TIMEOUT_MS)
    with python_thread_mode(inputs):
        decisions = inputs.process(_make_function(rules, pipeline.profile.watermark_delay_s * 1000),
                                   output_type=output_type()).name("nba-decide")
    register_stream_view(t_env, decisions, OUTPUT_VIEW)
