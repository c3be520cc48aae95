"""Hostile records: what a buggy or malicious producer puts on an input topic.

Every record made here is checked against the project's own rules before it is handed out: either
`Codec.decode` raises (the connector's format would reject it) or `validation.python_reason` names the
broken rule. A candidate that turns out to be acceptable (random bytes can decode into a plausible
Avro record; a JSON number where a string is would be coerced) is thrown away and another is made,
so a test can rely on "counted as bad" meaning "must end up in the DLQ".
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from typing import Any

from cxstream import contracts
from cxstream.codec import Codec, key_bytes
from cxstream.contracts import Contract
from cxstream.simulator.records import Record
from cxstream.validation import MAX_CLOCK_SKEW_MS, python_reason

BAD_KINDS = ("truncated", "random_bytes", "wrong_schema", "wrong_types", "missing_field", "unknown_enum",
             "empty_id", "non_finite", "huge_string", "absurd_time", "invalid_utf8")
JSON_ONLY = frozenset({"wrong_types", "missing_field"})  # Avro cannot express them: the writer refuses
# Huge records cost a megabyte each; at the same weight as the others they would dominate the byte rate.
# kafka-python checksums each batch in pure Python unless the crc32c package is installed (~0.1 s per MB
# here), which stalls the sender; so huge records are rarer than the other kinds.
_WEIGHTS = {"huge_string": 0.1}
_ENUM_NOISE = ("fax", "WEB", "Chat ", "teleport", "unknown", "", "n/a", "pigeon", "CRITICAL", "maybe", "null",
               "页面浏览")
_EMPTY = ("", " ", "   ", "\t", "\n")
_MARKER = "QZXJVWQZ"
_INVALID_UTF8 = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28"  # as long as the marker: Avro's length prefix stays right
_YEAR_MS = 365 * 86_400_000
_MAX_TIMESTAMP_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z, the largest an ISO-8601 year can say


@dataclass(frozen=True)
class BadRecord:
    kind: str
    key: bytes | None
    value: bytes
    record: Record | None  # as decoded, None when it does not decode
    reason: str  # why the project's rules reject it: "decode: <error>" or validation's reason


def judge(contract: Contract, codec: Codec, value: bytes,
          kafka_timestamp_ms: int) -> tuple[Record | None, str | None]:
    """(decoded record or None, rejection reason or None when the record is acceptable)."""
    try:
        record = codec.decode(value)
    except Exception as exc:  # noqa: BLE001 - any failure to decode is exactly what we are checking for
        return None, f"decode: {type(exc).__name__}"
    if not isinstance(record, dict):
        return None, "decode: not a record"
    try:
        return record, python_reason(contract, record, kafka_timestamp_ms)
    except Exception:  # noqa: BLE001 - a record the rules cannot even judge proves nothing
        return record, None


class Hostile:
    def __init__(self, rng: random.Random, fmt: str, kinds: tuple[str, ...] | None, huge_bytes: int) -> None:
        self._rng = rng
        self.fmt = fmt
        self._huge_bytes = huge_bytes
        self._codecs = {name: Codec(contracts.load(name), fmt) for name in contracts.INPUTS}
        chosen = kinds if kinds is not None else BAD_KINDS
        enabled = [k for k in chosen if fmt == "json" or k not in JSON_ONLY]
        self._kinds: dict[str, list[str]] = {}
        for name in contracts.INPUTS:
            c = contracts.load(name)
            has_double = any(f.base_type == "double" for f in c.fields)
            self._kinds[name] = [k for k in enabled if k != "non_finite" or has_double]

    def kinds_for(self, contract_name: str) -> list[str]:
        return list(self._kinds[contract_name])

    def make(self, contract_name: str, template: Record, kafka_timestamp_ms: int,
             others: dict[str, Record]) -> BadRecord:
        """A bad record for this topic, derived from a good one (never the same event id)."""
        contract = contracts.load(contract_name)
        codec = self._codecs[contract_name]
        kinds = self._kinds[contract_name] or ["absurd_time"]
        weights = [_WEIGHTS.get(k, 1.0) for k in kinds]
        first = self._rng.choices(kinds, weights)[0]
        tries = [first] * 3 + [self._rng.choices(kinds, weights)[0] for _ in range(7)]
        for kind in tries:
            value = self._build(kind, contract, codec, template, kafka_timestamp_ms, others)
            if value is None:
                continue
            record, reason = judge(contract, codec, value, kafka_timestamp_ms)
            if reason is not None:
                key = None if kind == "random_bytes" else key_bytes(contract, template)
                return BadRecord(kind, key, value, record, reason)
        # Unreachable in practice; an event time years away is bad by construction whatever the format.
        value = self._absurd_time(contract, codec, self._fresh(contract, template), kafka_timestamp_ms)
        record, reason = judge(contract, codec, value, kafka_timestamp_ms)
        assert reason is not None
        return BadRecord("absurd_time", key_bytes(contract, template), value, record, reason)

    # --- construction -------------------------------------------------------------------------------

    def _fresh(self, contract: Contract, template: Record) -> Record:
        rec = copy.deepcopy(template)
        id_field = contract.fields[0].name  # every input contract leads with its own id
        rec[id_field] = f"bad-{self._rng.getrandbits(64):016x}"
        return rec

    def _json_obj(self, contract: Contract, rec: Record) -> dict[str, Any]:
        return json.loads(Codec(contract, "json").encode(rec))

    def _build(self, kind: str, contract: Contract, codec: Codec, template: Record, ts: int,
               others: dict[str, Record]) -> bytes | None:
        rng = self._rng
        rec = self._fresh(contract, template)
        if kind == "truncated":
            data = codec.encode(rec)
            return data[: rng.randint(1, len(data) - 1)]
        if kind == "random_bytes":
            return rng.randbytes(rng.randint(1, 256))
        if kind == "wrong_schema":
            candidates = [n for n in others if n != contract.name]
            if not candidates:
                return None
            other = contracts.load(rng.choice(sorted(candidates)))
            return self._codecs[other.name].encode(self._fresh(other, others[other.name]))
        if kind == "wrong_types":
            obj = self._json_obj(contract, rec)
            et = contract.event_time or "event_time"
            variant = rng.randrange(3)
            if variant == 0:
                obj[et] = str(ts)  # epoch millis as a string where an ISO-8601 timestamp is expected
            elif variant == 1:
                obj[et] = rng.choice(("yesterday", "soon", "12/31/2026 10:00", "N/A"))
            else:
                enum = rng.choice([f.name for f in contract.fields if f.allowed])
                obj[enum] = rng.randint(0, 9)  # a number where a string is
            return json.dumps(obj).encode()
        if kind == "missing_field":
            obj = self._json_obj(contract, rec)
            name = rng.choice([f.name for f in contract.fields if not f.nullable])
            if rng.random() < 0.5:
                del obj[name]
            else:
                obj[name] = None
            return json.dumps(obj).encode()
        if kind == "unknown_enum":
            f = rng.choice([f for f in contract.fields if f.allowed])
            assert f.allowed is not None
            rec[f.name] = rng.choice([v for v in _ENUM_NOISE if v not in f.allowed])
            return codec.encode(rec)
        if kind == "empty_id":
            names = [f.name for f in contract.fields if f.base_type == "string" and not f.nullable
                     and (f.name.endswith("_id") or f.name == "text")]
            rec[rng.choice(names)] = rng.choice(_EMPTY)
            return codec.encode(rec)
        if kind == "non_finite":
            name = next(f.name for f in contract.fields if f.base_type == "double")
            bad = rng.choice((float("nan"), float("inf"), float("-inf")))
            if codec.format == "avro":
                rec[name] = bad
                return codec.encode(rec)
            rec[name] = 1.0
            obj = self._json_obj(contract, rec)
            obj[name] = bad
            return json.dumps(obj, allow_nan=True).encode()  # the NaN / Infinity tokens: not JSON at all
        if kind == "huge_string":
            # Huge text alone is legal by the contract; huge *and* outside the allowed values is not.
            f = rng.choice([f for f in contract.fields if f.allowed])
            word = rng.choice(("overflow ", "AAAA", "lorem ipsum ", "\u00e9t\u00e9 "))
            rec[f.name] = (word * (self._huge_bytes // len(word) + 1))[: self._huge_bytes]
            return codec.encode(rec)
        if kind == "absurd_time":
            return self._absurd_time(contract, codec, rec, ts)
        if kind == "invalid_utf8":
            names = [f.name for f in contract.fields if f.base_type == "string" and not f.allowed]
            name = rng.choice(names)
            rec[name] = str(rec.get(name) or "")[: rng.randint(0, 12)] + _MARKER
            data = codec.encode(rec)
            marker = _MARKER.encode()
            if data.count(marker) != 1:
                return None
            return data.replace(marker, _INVALID_UTF8)
        raise ValueError(f"unknown bad kind {kind!r}")

    def _absurd_time(self, contract: Contract, codec: Codec, rec: Record, ts: int) -> bytes:
        rng = self._rng
        skew = MAX_CLOCK_SKEW_MS + 3_600_000
        et = contract.event_time or "event_time"
        rec[et] = rng.choice((
            ts - rng.randint(skew, 30 * _YEAR_MS),  # a device clock that never got set
            ts + rng.randint(skew, 5 * _YEAR_MS),
            0,
            _MAX_TIMESTAMP_MS,
        ))
        return codec.encode(rec)
