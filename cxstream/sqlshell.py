"""`cxstream sql` without a file: a prompt that reads statements ending in `;`.

Besides SQL it knows three words (with or without `;`): `help`, `tables` (the catalog: every table,
the topic behind it and its columns) and `quit`. Ctrl-C stops a running query and returns to the
prompt; at the prompt it clears a half-typed statement; Ctrl-D quits.
"""

from __future__ import annotations

import argparse
import sys

from cxstream.catalog import catalog_tables
from cxstream.sqlfiles import split_located
from cxstream.sqlrun import Session, SqlError, open_session

HELP = """\
Statements end with ';' and may span lines. Every suite topic is a table:
  inputs (valid rows):  interactions, messages, context_events, outcomes
                        (<name>_raw and <name>_checked show every row, with dlq_reason)
  outputs:              signals, sentiment, drift, nba_triggers, alerts, dlq
Examples:
  SELECT channel, COUNT(*) AS events FROM interactions GROUP BY channel;
  EXPLAIN SELECT * FROM signals WHERE window_kind = 'tumble_1m';
  SHOW TABLES;  DESCRIBE signals;
Commands: help, tables, quit.  Ctrl-C stops a running query.  Recipes: sql/examples/*.sql"""


def tables_text(session: Session) -> str:
    lines = []
    for t in catalog_tables(session.pipeline.profile):
        cols = ", ".join(name for name, _ in t.columns)
        lines.append(f"{t.name:<15} {t.role:<6} {t.topic:<26} {cols}")
    return "\n".join(lines)


def _statement_complete(buffer: str) -> bool:
    located = split_located(buffer)
    return bool(located) and located[-1].terminated


def interactive(args: argparse.Namespace, stdin=None) -> int:  # noqa: ANN001 - a text stream
    stdin = stdin or sys.stdin
    tty = stdin.isatty()
    print("cxstream sql: starting Flink and registering the suite's tables…", file=sys.stderr)
    session = open_session(args)
    print("ready. Type 'help' for help, 'quit' to leave.", file=sys.stderr)
    buffer = ""
    count = 0
    while True:
        prompt = "cx> " if not buffer else "  -> "
        try:
            if tty:
                line = input(prompt)
            else:
                line = stdin.readline()
                if not line:
                    raise EOFError
        except EOFError:
            print(file=sys.stderr)
            return 0
        except KeyboardInterrupt:
            buffer = ""
            print(file=sys.stderr)
            continue
        word = line.strip().rstrip(";").strip().lower()
        if not buffer and word in ("quit", "exit", "\\q"):
            return 0
        if not buffer and word in ("help", "\\h", "?"):
            print(HELP)
            continue
        if not buffer and word == "tables":
            print(tables_text(session))
            continue
        buffer += line if line.endswith("\n") else line + "\n"
        if not _statement_complete(buffer):
            continue
        for stmt in split_located(buffer):
            count += 1
            try:
                session.run(f"statement {count}", stmt)
            except SqlError as exc:
                print(f"error: {exc}", file=sys.stderr)
            except KeyboardInterrupt:
                print("(stopped)", file=sys.stderr)
        buffer = ""
