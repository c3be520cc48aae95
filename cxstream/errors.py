"""Turn exceptions into one line a user can act on, instead of a Java stack wall."""

from __future__ import annotations

import re


def describe(exc: BaseException) -> str:
    from cxstream.kafka_clients import redact_secrets

    return redact_secrets(_describe(exc))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Py4J wraps Java exceptions; the useful part is the deepest "Caused by" message.
    causes = re.findall(r"Caused by: ([\w.$]+(?:Exception|Error)[^\n]*)", text)
    if causes:
        return causes[-1]
    first = text.splitlines()[0]
    m = re.match(r"An error occurred while calling [\w.]+\.\s*: ([^\n]+)", text)
    if m:
        return m.group(1)
    return first[:500]
