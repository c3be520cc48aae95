"""Record constructors for the four input contracts, field for field in schema order.

One place builds dicts so that background traffic, scenarios and bad-record templates agree on the
shape. `event_time` starts at 0: the engine stamps it when the event is emitted, because only then is
the clock (wall or simulated) and the disorder (jitter, lateness) known.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]


def interaction(event_id: str, customer_id: str, session_id: str, channel: str, event_type: str,
                item_id: str | None = None, amount: float | None = None,
                currency: str | None = None, segment: str | None = None) -> Record:
    return {"event_id": event_id, "customer_id": customer_id, "session_id": session_id, "channel": channel,
            "event_type": event_type, "item_id": item_id, "amount": amount, "currency": currency,
            "event_time": 0, "segment": segment}


def message(message_id: str, conversation_id: str, customer_id: str, agent_id: str | None, channel: str,
            sender: str, text: str) -> Record:
    return {"message_id": message_id, "conversation_id": conversation_id, "customer_id": customer_id,
            "agent_id": agent_id, "channel": channel, "sender": sender, "text": text, "event_time": 0}


def context(context_id: str, context_type: str, severity: str, attributes: dict[str, str],
            customer_id: str | None = None, subject_key: str | None = None) -> Record:
    return {"context_id": context_id, "context_type": context_type, "customer_id": customer_id,
            "subject_key": subject_key, "severity": severity, "attributes": attributes, "event_time": 0}


def outcome(trigger_id: str, customer_id: str, outcome_: str) -> Record:
    return {"trigger_id": trigger_id, "customer_id": customer_id, "outcome": outcome_, "event_time": 0}


TimedRecord = tuple[int, str, Record]  # (model time ms, contract name, record)
