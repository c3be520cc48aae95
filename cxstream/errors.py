"""Turn exceptions into one line a user can act on, instead of a Java stack wall."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

JAVA_HINT = ("install a JDK 17 (Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless) or point JAVA_HOME "
             "at one")


class UserError(RuntimeError):
    """Something the user can fix; the message says what and how."""


def java_executable() -> str | None:
    """The java PyFlink will start: $JAVA_HOME/bin/java when JAVA_HOME is set, else java on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def require_java() -> str:
    """Fail with one clear line before PyFlink would fail with "Java gateway process exited..."."""
    java = java_executable()
    if java is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java" if os.environ.get("JAVA_HOME") \
            else "no java on PATH"
        raise UserError(f"Flink needs Java and none was found ({where}): {JAVA_HINT}")
    return java


def describe(exc: BaseException) -> str:
    from cxstream.kafka_clients import redact_secrets

    said = _describe(exc)
    if not re.sub(r"\s", "", said).isprintable():  # raw bytes (a BadStatusLine from a gRPC port): show them
        said = f"{type(exc).__name__}: {said[:200]!r}"
    return redact_secrets(said)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "Java gateway process exited before sending its port number" in text:
        return f"Flink's Java process did not start (is Java 17 installed?): {JAVA_HINT}"
    # Py4J wraps Java exceptions; the useful part is the deepest "Caused by" message.
    causes = re.findall(r"Caused by: ([\w.$]+(?:Exception|Error)[^\n]*)", text)
    if causes:
        return causes[-1]
    # Only newlines end a line: splitlines() also splits at \x1c-\x1e, which raw bytes hold.
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    first = lines[0]
    m = re.match(r"An error occurred while calling [\w.]+\.\s*: ([^\n]+)", text)
    if m:
        return m.group(1)
    if first.endswith(":") and len(lines) > 1:  # "connector build failed:" + the reason on the next line
        first = f"{first} {lines[1]}"
    return first[:500]
