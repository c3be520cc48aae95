"""The alert rules file and the deduplication rules, without Flink (the end-to-end checks are in
tests/test_alerts.py and tests/test_quality.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from cxstream import alert_rules, sqlfiles
from cxstream.paths import REPO_ROOT
from cxstream.profiles import make_profile
from cxstream.runtime import profile_sql_variables

sys.path.insert(0, str(REPO_ROOT / "udfs"))
import alert_dedup  # noqa: E402


def test_every_placeholder_in_alerts_sql_is_set_by_the_rules_file_or_the_profile() -> None:
    variables = alert_rules.sql_variables(alert_rules.load())
    profile = make_profile("local", "localhost:9092", "avro", "")
    statements = sqlfiles.load("alerts.sql", instances=({**profile_sql_variables(profile), **variables},))
    assert not any("${" in s for s in statements)
    assert "p99_lag_s > 30" in "\n".join(statements)  # event_lag.max_p99_seconds in the shipped file
    # A cart-idle timer's trigger is timed from its due time + the watermark delay (5 s by default).
    assert "THEN 5 * 1000 ELSE 0 END" in "\n".join(statements)
    assert variables["fairness_min_ratio"] == "CAST(0.8 AS DOUBLE)"


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["drift"].pop("max_psi"), "drift.max_psi must be a number"),
    (lambda r: r["fairness"].update(min_ratio="0.8"), "fairness.min_ratio must be a number"),
    (lambda r: r["dlq_rate"].update(severity="page"), "dlq_rate.severity must be one of"),
    (lambda r: r["event_lag"].update(max_p99_secs=3), "unknown settings ['max_p99_secs']"),
    (lambda r: r.update(throughput=1), "unknown keys ['throughput']"),
    (lambda r: r.update(resolve_after=0), "resolve_after must be > 0"),
])
def test_a_broken_rules_file_is_refused_with_the_key_named(tmp_path: Path, change, message: str) -> None:
    rules = yaml.safe_load(alert_rules.RULES_FILE.read_text())
    change(rules)
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(rules))
    with pytest.raises(ValueError) as err:
        alert_rules.load(path)
    assert message in str(err.value)


def _evaluation(window: int, breached: bool) -> dict:
    return {"kind": "k", "subject": "s", "severity": "warning", "breached": breached, "observed": float(window),
            "threshold": 1.0, "detail": None, "window_start_ms": window * 60_000,
            "window_end_ms": (window + 1) * 60_000}


def test_dedup_opens_counts_waits_for_clean_windows_and_ignores_old_windows() -> None:
    state = alert_dedup.AlertState()
    steps = [(0, False), (1, True), (2, True), (1, True), (3, False), (4, True), (5, False), (6, False), (7, True)]
    out = [alert_dedup.step(state, _evaluation(w, b), resolve_after=2) for w, b in steps]
    summary = [None if r is None else
               (r["state"], r["count"], r["first_seen_ms"] // 60_000, r["last_seen_ms"] // 60_000) for r in out]
    assert summary == [
        None,                    # clean and nothing open
        ("open", 1, 2, 2),       # first breach: first/last seen = the window's end
        ("open", 2, 2, 3),       # still breached: same alert, count 2
        None,                    # window 1 again (a replay): ignored
        None,                    # one clean window: resolve_after is 2
        ("open", 3, 2, 5),       # breached again before resolving: still the same alert
        None,
        ("resolved", 3, 2, 5),   # two clean windows in a row
        ("open", 1, 8, 8),       # a new episode
    ]


def test_tail_filters_by_kind_and_minimum_severity_and_prints_alerts_readably() -> None:
    from cxstream.consume import Message
    from cxstream.tail import _human, _matches

    alert = {"kind": "dlq_rate", "subject": "cx.events.interactions", "severity": "warning", "state": "open",
             "observed": 0.1111, "threshold": 0.05, "detail": "15 dead letters", "window_start": 120_000,
             "window_end": 180_000, "count": 3, "first_seen": 60_000, "last_seen": 180_000}
    assert _matches(alert, [], ["dlq_rate"], "info") and _matches(alert, [], [], "warning")
    assert not _matches(alert, [], [], "critical") and not _matches(alert, [], ["fairness"], None)
    assert not _matches({**alert, "severity": None}, [], [], "info")
    assert _matches(alert, [("state", "open")], [], None) and not _matches(alert, [("state", "resolved")], [], None)
    line = _human(Message("cx.alerts", 0, 5, 181_000, b"k", b"v", 0, record=alert))
    assert "● OPEN" in line and "dlq_rate" in line and "×3 since 00:01:00" in line and "observed 0.1111" in line
    resolved = _human(Message("cx.alerts", 0, 6, 241_000, b"k", b"v", 0, record={**alert, "state": "resolved"}))
    assert "✓ RESOLVED" in resolved


def test_alerts_sql_times_exactly_the_rules_timer_moments_from_due_time_plus_delay() -> None:
    """sql/alerts.sql names the timer moments in its e2e_latency CASE; they must be the rules' own."""
    import re

    import nba_rules

    text = (REPO_ROOT / "sql" / "alerts.sql").read_text()
    named = set(re.findall(r"evidence\['moment'\]\s*=\s*'(\w+)'", text))
    assert named == set(nba_rules.TIMER_MOMENTS), named
