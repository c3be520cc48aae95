"""Contract checks that a decoded record must pass before a job uses it.

The connector's format rejects what cannot be decoded (stage ``decode``). What decodes but breaks
the contract is rejected here (stage ``validate``): a required field that is null (possible with
JSON), a value outside the field's ``cx.allowed`` list, an empty identifier, or an event time that
is absurd relative to the Kafka record's own timestamp.

The rules are derived from the contract and rendered twice from the same list: as a SQL
expression that yields the first failing reason or NULL (used by the jobs), and as a Python
function (used by the simulator to guarantee its bad records are bad, and by tests as an oracle).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from cxstream.contracts import Contract

# An event stamped more than MAX_CLOCK_SKEW_MS before, or MAX_FUTURE_SKEW_MS after, the time the
# producer stamped the Kafka record is treated as a clock bug upstream, not as a late or early event.
# The past bound is generous on purpose: a kiosk that syncs a day of events after an outage sends
# genuinely late events, which the lateness policy (runtime.py) handles; a year-1970 stamp is a bug.
# The SQL renders them as DAY and HOUR intervals, so keep them whole days and whole hours.
MAX_CLOCK_SKEW_MS = 7 * 24 * 3600 * 1000
MAX_FUTURE_SKEW_MS = 3600 * 1000
_BLANK = re.compile(r"[ \t\n\x0b\f\r]*")  # what Java's \s matches, as the SQL rule uses it


@dataclass(frozen=True)
class Rule:
    reason: str
    sql_failure: str  # SQL predicate that is TRUE when the record breaks the rule

    def __post_init__(self) -> None:
        if "'" in self.reason:
            raise ValueError("reasons are embedded in SQL literals and may not contain quotes")


def _sql_str_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def rules_for(contract: Contract, kafka_timestamp_column: str = "kafka_timestamp") -> list[Rule]:
    rules: list[Rule] = []
    for f in contract.fields:
        col = f"`{f.name}`"
        if not f.nullable:
            rules.append(Rule(f"invalid: missing {f.name}", f"{col} IS NULL"))
        base = f.base_type
        if base == "string" and not f.nullable and (f.name.endswith("_id") or f.name == "text"):
            # Blank means only ASCII whitespace (Java's \\s); TRIM alone strips spaces, not tabs or newlines.
            rules.append(Rule(f"invalid: empty {f.name}", f"REGEXP({col}, '^\\s*$')"))
        if f.allowed:
            rules.append(Rule(f"invalid: unknown {f.name}", f"{col} NOT IN ({_sql_str_list(f.allowed)})"))
        if base == "double":
            # Avro doubles can carry NaN and +-Infinity; no signal is meaningful over them. Flink SQL
            # compares NaN equal to itself (x <> x is FALSE), so the text form is what is tested.
            rules.append(Rule(f"invalid: non-finite {f.name}",
                              f"CAST({col} AS STRING) IN ('NaN', 'Infinity', '-Infinity')"))
    if contract.event_time:
        et = f"`{contract.event_time}`"
        # Interval arithmetic, not TIMESTAMPDIFF: the difference to a year-9999 timestamp overflows INT.
        past = f"INTERVAL '{MAX_CLOCK_SKEW_MS // 86_400_000}' DAY"
        future = f"INTERVAL '{MAX_FUTURE_SKEW_MS // 3_600_000}' HOUR"
        rules.append(Rule(
            "invalid: absurd event_time",
            f"({et} < {kafka_timestamp_column} - {past} OR {et} > {kafka_timestamp_column} + {future})",
        ))
    return rules


def sql_reason(contract: Contract, kafka_timestamp_column: str = "kafka_timestamp") -> str:
    """A SQL expression: the first broken rule's reason, or NULL when the record is valid."""
    whens = "\n    ".join(
        f"WHEN {r.sql_failure} THEN '{r.reason}'" for r in rules_for(contract, kafka_timestamp_column)
    )
    return f"CASE\n    {whens}\n    ELSE CAST(NULL AS STRING)\n  END"


LATE_PREFIX = "late: "


def sql_late_reason(contract: Contract) -> str | None:
    """A SQL expression: why a valid row is too late to count, or NULL when it is on time.

    The lateness policy, one rule for every job: a row whose event time is behind the watermark
    when it arrives is not applied to any window or state; it goes to the DLQ with stage 'late'
    and how far behind it was, so it is counted and can be replayed by a backfill. Rows within the
    watermark's out-of-orderness bound are on time by definition. Testing this right after the
    source gives the same answer the window operators would (the watermark only grows downstream
    after a row has passed), so no row is both dropped by a window and missing from the DLQ.
    """
    if not contract.event_time:
        return None
    et = f"`{contract.event_time}`"
    wm = f"CURRENT_WATERMARK({et})"
    return (f"CASE WHEN {et} < {wm} THEN CONCAT('{LATE_PREFIX}behind the watermark by ', "
            f"CAST(TIMESTAMPDIFF(SECOND, {et}, {wm}) AS STRING), ' s') END")


def python_reason(contract: Contract, record: dict[str, Any], kafka_timestamp_ms: int) -> str | None:
    """The same rules as sql_reason, evaluated in Python on a decoded record."""
    for f in contract.fields:
        value = record.get(f.name)
        if value is None:
            if not f.nullable:
                return f"invalid: missing {f.name}"
            continue
        base = f.base_type
        if base == "string" and not f.nullable and (f.name.endswith("_id") or f.name == "text"):
            if isinstance(value, str) and _BLANK.fullmatch(value):
                return f"invalid: empty {f.name}"
        if f.allowed and value not in f.allowed:
            return f"invalid: unknown {f.name}"
        if base == "double" and isinstance(value, float) and not math.isfinite(value):
            return f"invalid: non-finite {f.name}"
    if contract.event_time:
        et = record.get(contract.event_time)
        if isinstance(et, int) and not -MAX_CLOCK_SKEW_MS <= et - kafka_timestamp_ms <= MAX_FUTURE_SKEW_MS:
            return "invalid: absurd event_time"
    return None
