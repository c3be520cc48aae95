"""Read the .sql files in sql/: split them into statements and tell queries from definitions."""

from __future__ import annotations

import re
from pathlib import Path

from cxstream.paths import SQL_DIR


def split_statements(text: str) -> list[str]:
    """Split SQL text on top-level semicolons, ignoring those in quotes and comments."""
    statements: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    quote: str | None = None
    while i < n:
        ch = text[i]
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
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ";":
            stmt = "".join(buf).strip()
            if stmt:
                statements.append(stmt)
            buf = []
        else:
            buf.append(ch)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements


_INSERT = re.compile(r"^\s*(EXECUTE\s+)?INSERT\s+INTO\b", re.I)


def is_insert(statement: str) -> bool:
    return bool(_INSERT.match(statement))


def load(name: str, base: Path = SQL_DIR) -> list[str]:
    path = base / name
    if not path.exists():
        raise FileNotFoundError(f"SQL file not found: {path}")
    return split_statements(path.read_text())
