"""Encode and decode records on the wire, for the Python side (simulator, tail, tests, bench).

Two wire formats, both derived from the contract:
- ``avro``: plain Avro binary of the contract's schema, no framing (what the cx-avro Flink format
  and, in the cluster profile, Flink's own ``avro`` format read and write);
- ``json``: one JSON object per message, timestamps as ISO-8601 UTC strings with milliseconds
  (Flink's ``json`` format with ``json.timestamp-format.standard = ISO-8601``).

In Python a record is a dict; timestamps are ``int`` epoch milliseconds on both sides, so records
round-trip unchanged whichever format is used.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import fastavro

from cxstream.contracts import Contract

Record = dict[str, Any]
FORMATS = ("avro", "json")


def iso_millis(epoch_ms: int) -> str:
    """Epoch millis → '2026-11-22T21:00:00.123Z' (the form Flink's ISO-8601 JSON mode reads)."""
    dt = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def parse_iso_millis(text: str) -> int:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


class Codec:
    """Encoder and decoder for one contract in one format. Build once, call per record."""

    def __init__(self, contract: Contract, fmt: str) -> None:
        fmt = contract.fixed_format or fmt
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
        self.contract = contract
        self.format = fmt
        self._timestamps = tuple(f.name for f in contract.fields if f.is_timestamp)
        self._parsed = fastavro.parse_schema(contract.schema)
        self.encode: Callable[[Record], bytes] = self._encode_avro if fmt == "avro" else self._encode_json
        self.decode: Callable[[bytes], Record] = self._decode_avro if fmt == "avro" else self._decode_json

    def _encode_avro(self, record: Record) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self._parsed, record)
        return buf.getvalue()

    def _decode_avro(self, data: bytes) -> Record:
        buf = io.BytesIO(data)
        rec = fastavro.schemaless_reader(buf, self._parsed, self._parsed)
        if buf.tell() != len(data):  # as strict as the connector's cx-avro format
            raise ValueError(f"{len(data) - buf.tell()} bytes left over after a complete record: "
                             "not this schema, or not Avro")
        for name in self._timestamps:  # fastavro turns timestamp-millis into datetimes
            value = rec.get(name)
            if isinstance(value, datetime):
                rec[name] = round(value.timestamp() * 1000)
        return rec

    def _encode_json(self, record: Record) -> bytes:
        out = dict(record)
        for name in self._timestamps:
            value = out.get(name)
            if isinstance(value, int):
                out[name] = iso_millis(value)
        return json.dumps(out, separators=(",", ":"), allow_nan=False).encode()

    def _decode_json(self, data: bytes) -> Record:
        rec = json.loads(data, parse_constant=_reject_json_constant)
        for name in self._timestamps:
            value = rec.get(name)
            if isinstance(value, str):
                rec[name] = parse_iso_millis(value)
        return rec


def _reject_json_constant(token: str) -> float:
    """NaN and Infinity are not JSON; Python accepts them, Flink's JSON format (rightly) does not."""
    raise ValueError(f"{token} is not a JSON value")


def key_bytes(contract: Contract, record: Record) -> bytes | None:
    """The Kafka message key: the contract's key fields joined with '|' (None when keyless).

    Used for partitioning input topics so that one customer's (or conversation's) events stay in
    one partition and keep their order.
    """
    if not contract.key:
        return None
    return "|".join(str(record.get(k)) for k in contract.key).encode()
