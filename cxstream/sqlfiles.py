"""Read the .sql files in sql/: split them into statements and tell queries from definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cxstream.paths import SQL_DIR


def split_statements(text: str) -> list[str]:
    """Split SQL text on top-level semicolons, ignoring those in quotes and comments."""
    return [s.text for s in split_located(text)]


@dataclass(frozen=True)
class Located:
    """A statement with the 1-based line it starts on and whether a semicolon ended it."""

    text: str
    line: int
    terminated: bool


def split_located(text: str) -> list[Located]:
    """Like split_statements, keeping where each statement starts (for errors that name a line).

    Comments are dropped, but not query hints (`/*+ STATE_TTL('c' = '1h') */`): Flink reads those.
    """
    statements: list[Located] = []
    buf: list[str] = []
    start: int | None = None  # offset of the statement's first character outside comments
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
        if start is None and not ch.isspace() and not text.startswith(("--", "/*"), i) and ch != ";":
            start = i
        if quote:
            buf.append(ch)
            if ch == quote:
                if i + 1 < n and text[i + 1] == quote:  # doubled quote escapes itself
                    buf.append(text[i + 1])
                    i += 1
                else:
                    quote = None
        elif ch in ("'", "`", '"'):
            quote = ch
            buf.append(ch)
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*+", i):  # a query hint (/*+ STATE_TTL(...) */) is part of the statement
            end = text.find("*/", i + 3)
            stop = n if end < 0 else end + 2
            buf.append(text[i:stop])
            i = stop
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ";":
            stmt = "".join(buf).strip()
            if stmt:
                statements.append(Located(stmt, text.count("\n", 0, start or 0) + 1, True))
            buf = []
            start = None
        else:
            buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(Located(tail, text.count("\n", 0, start or 0) + 1, False))
    return statements


_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_INSERT = re.compile(r"^\s*(EXECUTE\s+)?INSERT\s+INTO\b", re.I)


def is_insert(statement: str) -> bool:
    return bool(_INSERT.match(statement))


def load(name: str, base: Path = SQL_DIR, instances: Sequence[Mapping[str, str]] = ()) -> list[str]:
    """The statements of sql/<name>, with ``${var}`` placeholders instantiated.

    A statement with placeholders is emitted once per entry of `instances` (the job declares them,
    e.g. one per window kind), dbt-style: the query is written once and reads as SQL, and the
    variants are data. Statements without placeholders are emitted once.
    """
    path = base / name
    if not path.exists():
        raise FileNotFoundError(f"SQL file not found: {path}")
    out: list[str] = []
    for statement in split_statements(path.read_text()):
        names = set(_PLACEHOLDER.findall(statement))
        if not names:
            out.append(statement)
            continue
        if not instances:
            raise ValueError(f"{path.name}: a statement uses ${{{sorted(names)[0]}}} but the job declares no "
                             "instances for it")
        for variables in instances:
            missing = names - set(variables)
            if missing:
                raise ValueError(f"{path.name}: instance {dict(variables)} does not set {sorted(missing)}")
            out.append(_PLACEHOLDER.sub(lambda m, v=variables: v[m.group(1)], statement))
    return out
