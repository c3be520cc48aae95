"""The alert thresholds in rules/alerts.yaml, checked and flattened into SQL template variables.

sql/alerts.sql reads ``${event_lag_max_p99_seconds}``; the file says ``event_lag: {max_p99_seconds: 30}``.
Checking the file here, when the job is built, turns a typo into an error naming the key instead of
a SQL error about an unreplaced placeholder or, worse, a silently different threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cxstream.paths import REPO_ROOT

RULES_FILE = REPO_ROOT / "rules" / "alerts.yaml"
SEVERITIES = ("info", "warning", "critical")

# Every kind and the numeric settings it must have (besides `severity`).
KINDS: dict[str, tuple[str, ...]] = {
    "event_lag": ("max_p99_seconds", "min_records"),
    "e2e_latency": ("max_p99_seconds", "min_triggers"),
    "throughput_drop": ("min_ratio", "baseline_minutes", "min_baseline_minutes", "min_baseline_records"),
    "dlq_rate": ("max_rate", "min_records"),
    "drift": ("max_psi", "max_js_distance", "min_sample_size"),
    "sentiment_spike": ("max_negative_share", "min_mean_compound", "min_messages"),
    "fairness": ("window_minutes", "min_ratio", "min_active_customers", "min_triggers"),
}
TOP_LEVEL = ("window_minutes", "resolve_after")


def load(path: Path = RULES_FILE) -> dict[str, Any]:
    """The rules file as a dict, after checking that every kind and setting is there and sane."""
    rules = yaml.safe_load(path.read_text())
    if not isinstance(rules, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    unknown = set(rules) - set(KINDS) - set(TOP_LEVEL)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (kinds: {', '.join(KINDS)})")
    for key in TOP_LEVEL:
        _number(rules, key, path, whole=True, positive=True)
    for kind, settings in KINDS.items():
        block = rules.get(kind)
        if not isinstance(block, dict):
            raise ValueError(f"{path}: missing block {kind!r}")
        extra = set(block) - set(settings) - {"severity"}
        if extra:
            raise ValueError(f"{path}: {kind} has unknown settings {sorted(extra)}")
        if block.get("severity") not in SEVERITIES:
            raise ValueError(f"{path}: {kind}.severity must be one of {', '.join(SEVERITIES)}")
        for name in settings:
            _number(block, name, path, whole=name.endswith(("minutes", "records", "triggers", "messages",
                                                             "customers", "size")), label=f"{kind}.{name}")
    return rules


def _number(block: dict, name: str, path: Path, whole: bool = False, positive: bool = False,
            label: str | None = None) -> None:
    value = block.get(name)
    label = label or name
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{path}: {label} must be a number, got {value!r}")
    if whole and (value != int(value) or value < 0):
        raise ValueError(f"{path}: {label} must be a whole number >= 0, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{path}: {label} must be > 0, got {value!r}")


def sql_variables(rules: dict[str, Any]) -> dict[str, str]:
    """`${kind_setting}` values for sql/alerts.sql: numbers as SQL literals, severities as text."""
    out = {key: _literal(rules[key]) for key in TOP_LEVEL}
    for kind, settings in KINDS.items():
        out[f"{kind}_severity"] = rules[kind]["severity"]
        for name in settings:
            out[f"{kind}_{name}"] = _literal(rules[kind][name])
    return out


def _literal(value: float) -> str:
    # A DOUBLE literal for fractions (0.8 would otherwise be a DECIMAL), a plain integer otherwise.
    if isinstance(value, float) and not value.is_integer():
        return f"CAST({value!r} AS DOUBLE)"
    return str(int(value))
