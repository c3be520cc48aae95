"""The simulator's knobs in one frozen dataclass, checked once so the engine never meets a bad combination.

Every field has a default that makes `SimulatorConfig()` a sensible live run; tests pin `clock`,
`start_ms` and `seed` to get byte-identical output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from cxstream.codec import FORMATS
from cxstream.contracts import INPUTS
from cxstream.validation import MAX_CLOCK_SKEW_MS

CLOCKS = ("wall", "simulated")
# Where outcomes come from (outcomes.py): answers to the decisions job's real triggers, or a synthetic
# background stream. None picks by clock: triggers on the wall clock, synthetic on the simulated one.
OUTCOME_MODES = ("triggers", "synthetic")

# Share of events per input contract. Interactions dominate real CX traffic; context and outcomes are sparse.
DEFAULT_MIX: dict[str, float] = {"interaction": 0.72, "message": 0.20, "context": 0.03, "outcome": 0.05}

# 1 MB (decimal): with the record's other fields and batch framing it stays under a stock Kafka broker's
# message.max.bytes (1,048,588), so the huge record reaches the topic (and the DLQ path) instead of being
# refused by the broker. Tansu has no such limit (15 MiB records were accepted).
DEFAULT_HUGE_BYTES = 1_000_000

# How long the producer waits to fill a batch. The local broker's fetches cost in proportion to the
# batches a partition holds, not its records (bench/broker_batch_cost.py), and at a few hundred
# events/s a 5 ms linger sends nearly every record in a batch of its own. With the whole suite at 300
# events/s, 30 ms instead of 5 gave the broker and the simulator ~0.2 cores back and a lower trigger
# median despite the wait (README, "Performance"). `--linger-ms` sets it per run.
DEFAULT_LINGER_MS = 30


@dataclass(frozen=True)
class SimulatorConfig:
    seed: int = 0
    fmt: str = "avro"
    clock: str = "wall"
    # Simulated clock origin. None = now (rounded to the second): a fixed date years back would put the
    # Kafka timestamps where a real cluster's time-based retention deletes them at once.
    start_ms: int | None = None
    rate: float = 200.0  # events/s sent, all topics together; 0 = as fast as possible
    event_rate: float | None = None  # events per second of event time in the model; None = rate (or 200)
    duration_s: float | None = None  # wall seconds (wall clock) or event-time seconds (simulated clock)
    count: int | None = None  # stop after this many events (good + bad + duplicates)
    topic_prefix: str = ""
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    customers: int = 20_000
    out_of_order_ms: int = 0  # event_time set back by up to this much (uniform)
    late_share: float = 0.0  # share of background events whose event_time is set back by lateness_ms
    lateness_ms: int = 10_000
    bad_share: float = 0.0  # share of hostile records per topic
    bad_kinds: tuple[str, ...] | None = None  # None = every kind that applies to the format
    huge_bytes: int = DEFAULT_HUGE_BYTES
    duplicate_share: float = 0.0  # probability that a good background record is sent twice
    scenarios: tuple[str, ...] = ()
    scenario_delay_s: float = 5.0  # first scenario starts this long after the run's start (event time)
    scenario_every_s: float | None = None  # repeat every scenario with fresh customer ids
    # Multiplies the offsets inside every scenario script: 0.25 tells a 4-minute story in 1 minute.
    # Rules with event-time thresholds (the 2-minute cart idle) see the shortened pauses too.
    scenario_time_scale: float = 1.0
    world_seed: int | None = None  # the population and catalogue; None = seed (a new seed = same world, new traffic)
    # Injected drift, from this many seconds of event time after the start: interaction amounts are
    # multiplied by drift_amount_factor and drift_channel_share of interactions move to drift_channel.
    drift_after_s: float | None = None
    drift_amount_factor: float = 3.0
    drift_channel: str = "kiosk"
    drift_channel_share: float = 0.6
    collect: bool = False  # keep every produced good record in the stats (test oracle input)
    compression: str | None = None  # None, "gzip" or "lz4" (lz4 needs the lz4 package)
    linger_ms: int = DEFAULT_LINGER_MS
    outcomes: str | None = None  # "triggers", "synthetic" or None (by clock): see outcome_mode
    # Multiplies the delays before an outcome answers a real trigger (outcomes.RESPONSE_DELAY_S): 1 is
    # the plausible minute or so of a person; a test of the closed loop need not wait for one.
    outcome_delay_scale: float = 1.0

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("invalid simulator configuration: " + "; ".join(problems))

    @property
    def model_rate(self) -> float:
        """Events per second of event time: how dense the simulated world is."""
        if self.event_rate:
            return self.event_rate
        return self.rate if self.rate > 0 else 200.0

    @property
    def outcome_mode(self) -> str:
        """'triggers' (answer the decisions job's real triggers) or 'synthetic' (made-up trigger ids).

        The simulated clock is synthetic unless asked otherwise: its runs are pure functions of the
        seed, and answers to a live topic would not be.
        """
        if self.outcomes is not None:
            return self.outcomes
        return "triggers" if self.clock == "wall" else "synthetic"

    def with_(self, **changes: Any) -> SimulatorConfig:
        return replace(self, **changes)


def _problems(c: SimulatorConfig) -> list[str]:
    from cxstream.simulator.hostile import BAD_KINDS
    from cxstream.simulator.scenarios import SCENARIOS

    out: list[str] = []
    if c.fmt not in FORMATS:
        out.append(f"fmt must be one of {FORMATS}, not {c.fmt!r}")
    if c.clock not in CLOCKS:
        out.append(f"clock must be one of {CLOCKS}, not {c.clock!r}")
    if c.rate < 0 or (c.event_rate is not None and c.event_rate <= 0):
        out.append("rate must be >= 0 and event_rate > 0")
    if c.count is not None and c.count < 0:
        out.append("count must be >= 0")
    if c.duration_s is not None and c.duration_s <= 0:
        out.append("duration must be > 0")
    unknown = set(c.mix) - set(INPUTS)
    if unknown:
        out.append(f"mix names unknown contracts {sorted(unknown)} (inputs: {', '.join(INPUTS)})")
    if any(v < 0 for v in c.mix.values()) or sum(c.mix.values()) <= 0:
        out.append("mix weights must be >= 0 with a positive sum")
    if c.customers < 10:
        out.append("customers must be >= 10")
    for name in ("late_share", "bad_share", "duplicate_share"):
        value = getattr(c, name)
        if not 0.0 <= value < 1.0:
            out.append(f"{name} must be in [0, 1)")
    # Good records must stay valid: an event_time further than the allowed skew from its Kafka timestamp
    # is 'absurd' by validation.py, which is what the absurd_time bad kind is for.
    for name in ("out_of_order_ms", "lateness_ms"):
        value = getattr(c, name)
        if not 0 <= value <= MAX_CLOCK_SKEW_MS:
            out.append(f"{name} must be in [0, {MAX_CLOCK_SKEW_MS}] ms: "
                       "beyond that a record is 'absurd', not late")
    if c.bad_kinds is not None:
        wrong = set(c.bad_kinds) - set(BAD_KINDS)
        if wrong:
            out.append(f"unknown bad kinds {sorted(wrong)} (known: {', '.join(BAD_KINDS)})")
        elif c.bad_share > 0 and not c.bad_kinds:
            out.append("bad_share > 0 needs at least one bad kind")
    if c.huge_bytes < 1024:
        out.append("huge_bytes must be >= 1024")
    if c.linger_ms < 0:
        out.append("linger_ms must be >= 0")
    wrong_scn = [s for s in c.scenarios if s not in SCENARIOS]
    if wrong_scn:
        out.append(f"unknown scenarios {wrong_scn} (known: {', '.join(SCENARIOS)})")
    if c.scenario_every_s is not None and c.scenario_every_s <= 0:
        out.append("scenario_every_s must be > 0")
    if not c.scenario_time_scale > 0:
        out.append("scenario_time_scale must be > 0")
    if c.outcomes is not None and c.outcomes not in OUTCOME_MODES:
        out.append(f"outcomes must be one of {OUTCOME_MODES}, not {c.outcomes!r}")
    if not c.outcome_delay_scale > 0:
        out.append("outcome_delay_scale must be > 0")
    elif c.outcome_delay_scale != 1.0 and c.outcome_mode != "triggers":
        out.append("outcome_delay_scale applies to answers to real triggers (outcomes 'triggers') only")
    if c.compression not in (None, "gzip", "lz4"):
        out.append("compression must be none, gzip or lz4")
    return out


_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int:
    """'10s', '10m', '1d', '250ms' or a bare number of milliseconds → milliseconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*", text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 500ms, 10s, 10m, 2h, 1d)")
    return round(float(m.group(1)) * _UNITS_MS[m.group(2) or "ms"])


def parse_mix(text: str) -> dict[str, float]:
    """'interaction=0.7,message=0.2,context=0.05,outcome=0.05' → dict (missing names get 0)."""
    mix = dict.fromkeys(INPUTS, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in mix:
            raise ValueError(f"bad mix entry {part!r}; expected NAME=WEIGHT with NAME in {', '.join(INPUTS)}")
        mix[name.strip()] = float(value)
    return mix
