"""A streaming query's result as a table: apply its changelog, render it as text.

A streaming SELECT does not return rows once: an aggregate sends a row (+I), later retracts it
(-U) and sends its new value (+U). What an analyst wants to see is the table those changes
describe now, which is what `LiveTable` keeps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Flink's RowKind names and the short forms its SQL client prints.
KIND_SHORT = {"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}


class LiveTable:
    """The current rows of a changelog, in the order they were first inserted."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows: list[tuple[Any, ...]] = []
        self.changes = 0

    def apply(self, kind: str, row: tuple[Any, ...]) -> None:
        """Apply one change; ``kind`` is a RowKind name (INSERT, UPDATE_BEFORE, ...)."""
        self.changes += 1
        if kind in ("INSERT", "UPDATE_AFTER"):
            self.rows.append(row)
            return
        try:  # a retraction names the exact row it takes back
            self.rows.remove(row)
        except ValueError:
            raise ValueError(f"changelog retracts a row it never inserted: {row!r}") from None

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def render(self, limit: int | None = None) -> str:
        """A fixed-width text table of the rows (the last ``limit`` of them when given)."""
        rows = self.rows if limit is None or len(self.rows) <= limit else self.rows[-limit:]
        cells = [[format_value(v) for v in r] for r in rows]
        widths = [len(c) for c in self.columns]
        for r in cells:
            widths = [max(w, len(v)) for w, v in zip(widths, r, strict=True)]
        widths = [min(w, 40) for w in widths]

        def line(values: Sequence[str]) -> str:
            return "| " + " | ".join(_fit(v, w) for v, w in zip(values, widths, strict=True)) + " |"

        rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
        out = [rule, line(self.columns), rule, *(line(r) for r in cells), rule]
        hidden = len(self.rows) - len(rows)
        out.append(f"{len(self.rows)} row(s)" + (f", showing the last {len(rows)}" if hidden else ""))
        return "\n".join(out)


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def format_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def to_json(value: Any) -> Any:
    """A value as JSON can carry it (timestamps as ISO-8601, decimals as numbers)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return value


def json_line(columns: Sequence[str], row: Sequence[Any], kind: str | None = None) -> str:
    record = {c: to_json(v) for c, v in zip(columns, row, strict=True)}
    if kind is not None:
        record = {"op": KIND_SHORT.get(kind, kind), **record}
    return json.dumps(record, ensure_ascii=False)
