"""The connector's own checks (connector/smoke_test.py), run against the session's broker.

They exercise the Java connector and format directly through Flink SQL, without the cxstream
runtime: JSON and Avro round trips in both directions (Python → Flink → Python), dead letters,
the upsert sink, event-time windows over per-partition watermarks, start modes, partition
discovery with offset commits, and the options the connector refuses.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from cxstream.jars import ensure_jars
from cxstream.paths import REPO_ROOT

pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location("connector_smoke", REPO_ROOT / "connector" / "smoke_test.py")
assert _spec and _spec.loader
smoke = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = smoke  # dataclasses look their module up there
_spec.loader.exec_module(smoke)

CHECKS = ["check_json_roundtrip", "check_avro_roundtrip", "check_dlq", "check_dlq_absent_fails", "check_upsert",
          "check_window", "check_start_modes", "check_discovery_and_commits", "check_refusals"]


@pytest.mark.parametrize("name", CHECKS)
def test_connector_check(bootstrap: str, name: str) -> None:
    ctx = smoke.Ctx(bootstrap, ensure_jars().urls(), parallelism=2)
    summary = getattr(smoke, name)(ctx)
    assert summary  # each check raises on the first mismatch and returns what it verified
