"""Drift statistics of a feature's window against a reference profile, from mergeable histograms.

A reference profile (reference/*.json, built by `cxstream reference build`) fixes, per feature,
the bins: for a numeric feature, edges at the reference's 5 %, 10 %, … 95 % quantiles (so each
reference bin holds ~5 % of the mass); for a categorical one, the reference's categories plus
"other". A window is summarised by its counts per bin, plus count, null count, sum and sum of
squares: all of them add up, so windows (or parallel partial aggregates) merge exactly.

Error introduced by binning, relative to the exact statistics on raw values:
- PSI and Jensen-Shannon distance are defined on the bins, so there is no error beyond the
  choice of bins (the oracle in tests computes them with numpy on the same bins).
- KS is evaluated only at the bin edges, so it is a lower bound of the exact two-sample KS
  statistic, short of it by at most the largest probability mass one bin holds in either sample
  (~0.05 for the reference by construction; more if the window piles up inside one bin).
- Mean shift and standard-deviation ratio are exact (from sums), against the reference's exact
  mean and standard deviation.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Sequence

EPSILON = 1e-4  # share given to an empty bin, so that PSI's logarithm stays finite
OTHER = "__other__"


def bin_of(feature: dict, value: object) -> int:
    """The bin index of a non-null value under a feature's reference bins."""
    if feature["kind"] == "numeric":
        return bisect.bisect_right(feature["edges"], float(value))  # type: ignore[arg-type]
    categories = feature["categories"]
    return categories.index(value) if value in categories else len(categories)


def bin_count(feature: dict) -> int:
    return len(feature["edges"]) + 1 if feature["kind"] == "numeric" else len(feature["categories"]) + 1


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [max(c / total, EPSILON) for c in counts] if total else [EPSILON] * len(counts)


def psi(window_counts: Sequence[float], reference_shares: Sequence[float]) -> float:
    p, q = _shares(window_counts), [max(s, EPSILON) for s in reference_shares]
    return float(sum((a - b) * math.log(a / b) for a, b in zip(p, q, strict=True)))


def js_distance(window_counts: Sequence[float], reference_shares: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2 (0 = same distribution, 1 = disjoint)."""
    total = sum(window_counts)
    p = [c / total for c in window_counts] if total else [0.0] * len(window_counts)
    q = list(reference_shares)
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(x: list[float]) -> float:
        return sum(a * math.log2(a / b) for a, b in zip(x, m, strict=True) if a > 0)

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def binned_ks(window_counts: Sequence[float], reference_shares: Sequence[float]) -> float:
    total = sum(window_counts)
    cp = cq = 0.0
    worst = 0.0
    for c, s in zip(window_counts, reference_shares, strict=True):
        cp += c / total if total else 0.0
        cq += s
        worst = max(worst, abs(cp - cq))
    return worst


def statistics(feature: dict, counts: Sequence[float], n: int, nulls: int, total: float,
               total_sq: float) -> dict[str, float | int | None]:
    """All drift statistics of one window of one feature."""
    ref = feature["shares"]
    out: dict[str, float | int | None] = {
        "sample_size": n, "null_rate": nulls / (n + nulls) if n + nulls else 0.0,
        "psi": None, "ks_statistic": None, "js_distance": None, "mean_shift_sd": None, "std_ratio": None,
    }
    if n == 0:
        return out
    out["psi"] = psi(counts, ref)
    out["js_distance"] = js_distance(counts, ref)
    if feature["kind"] == "numeric":
        out["ks_statistic"] = binned_ks(counts, ref)
        mean = total / n
        var = max(total_sq / n - mean * mean, 0.0) * n / (n - 1) if n > 1 else 0.0
        if feature["std"] > 0:
            out["mean_shift_sd"] = (mean - feature["mean"]) / feature["std"]
            out["std_ratio"] = math.sqrt(var) / feature["std"] if n > 1 else None
    return out


def build_feature(kind: str, values: Iterable[object], bins: int = 20) -> dict:
    """A feature's reference: its bins and the reference's shares in them (and mean/std if numeric)."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        raise ValueError("no non-null values to build a reference from")
    if kind == "numeric":
        xs = sorted(float(v) for v in present)  # type: ignore[arg-type]
        edges = sorted({xs[min(len(xs) - 1, int(len(xs) * k / bins))] for k in range(1, bins)})
        feature: dict = {"kind": "numeric", "edges": edges}
        mean = sum(xs) / len(xs)
        feature["mean"] = mean
        feature["std"] = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    else:
        categories = sorted({str(v) for v in present})
        feature = {"kind": "categorical", "categories": categories}
    counts = [0] * bin_count(feature)
    for v in present:
        counts[bin_of(feature, v)] += 1
    feature["shares"] = [c / len(present) for c in counts]
    feature["sample_size"] = len(present)
    return feature


def register(t_env, reference_path: str | None = None) -> None:  # noqa: ANN001 - a pyflink TableEnvironment
    """`drift_stats(feature, numeric_value, categorical_value)`: a JSON object of the statistics."""
    import os
    from pathlib import Path

    from pyflink.common import Row
    from pyflink.table import AggregateFunction, DataTypes
    from pyflink.table.udf import udaf

    chosen = reference_path or os.environ.get("CXSTREAM_DRIFT_REFERENCE")
    # The project's copy (cxstream.paths, on the client), not one beside this module's __file__: in a
    # process that already ran a job, this module may come from Flink's distributed cache (udfs/ only).
    from cxstream.paths import REPO_ROOT

    path = Path(chosen) if chosen else REPO_ROOT / "reference" / "default.json"
    profile = json.loads(path.read_text())

    class DriftStats(AggregateFunction):
        """Accumulates one window's histogram of one feature; the result is its drift statistics."""

        def __init__(self, reference: dict) -> None:
            self.reference = reference

        def create_accumulator(self) -> Row:
            return Row([], 0, 0, 0.0, 0.0)  # counts, n, nulls, sum, sum of squares

        def accumulate(self, acc: Row, feature: str, number: float | None, category: str | None) -> None:
            spec = self.reference["features"][feature]
            if not acc[0]:
                acc[0] = [0] * bin_count(spec)
            value = number if spec["kind"] == "numeric" else category
            if value is None:
                acc[2] += 1
                return
            acc[0][bin_of(spec, value)] += 1
            acc[1] += 1
            if spec["kind"] == "numeric":
                acc[3] += float(value)
                acc[4] += float(value) * float(value)

        def get_value(self, acc: Row) -> str | None:
            return json.dumps({"counts": list(acc[0]), "n": acc[1], "nulls": acc[2], "sum": acc[3], "sum_sq": acc[4]})

        def get_accumulator_type(self):  # noqa: ANN202
            return DataTypes.ROW([DataTypes.FIELD("counts", DataTypes.ARRAY(DataTypes.BIGINT())),
                                  DataTypes.FIELD("n", DataTypes.BIGINT()),
                                  DataTypes.FIELD("nulls", DataTypes.BIGINT()),
                                  DataTypes.FIELD("s", DataTypes.DOUBLE()), DataTypes.FIELD("ss", DataTypes.DOUBLE())])

        def get_result_type(self):  # noqa: ANN202
            return DataTypes.STRING()

    def summary_statistics(feature: str, summary: str) -> str:
        s = json.loads(summary)
        spec = profile["features"][feature]
        counts = s["counts"] or [0] * bin_count(spec)
        stats = statistics(spec, counts, s["n"], s["nulls"], s["sum"], s["sum_sq"])
        return json.dumps({**stats, "reference": profile["id"]})

    from pyflink.table.udf import udf

    t_env.create_temporary_function("drift_summary", udaf(DriftStats(profile)))
    t_env.create_temporary_function("drift_statistics", udf(summary_statistics, result_type=DataTypes.STRING()))
