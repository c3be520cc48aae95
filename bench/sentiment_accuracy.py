"""How accurate the sentiment model is, on human-labelled text the project did not write.

The labelled set: Hutto & Gilbert's ICWSM 2014 ground truth, which ships inside the source
distribution of the pinned vaderSentiment 3.3.2 (additional_resources/hutto_ICWSM_2014.tar.gz):
4,200 tweets, 10,605 movie-review snippets (Pang & Lee's sentence polarity data), 3,708 Amazon
review snippets and 5,190 New York Times editorial snippets, each with the mean of ~20 human
ratings on a -4..+4 scale. Caveat: VADER's authors assembled it, so it flatters VADER somewhat;
the movie snippets come from an independent earlier corpus.

Texts with a mean human rating of exactly 0 are left out; the rest are positive (> 0) or negative
(< 0). VADER's label: positive at compound >= 0.05, negative at <= -0.05, neutral between (a miss
for these polar texts). Prints a table, writes bench/results/sentiment_accuracy.json.

    .venv/bin/python bench/sentiment_accuracy.py
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SDIST = "vaderSentiment==3.3.2"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
SETS = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")


def ground_truth() -> dict[str, list[tuple[float, str]]]:
    """(mean human rating, text) per set, read from the pinned sdist (downloaded once by pip)."""
    cache = REPO / ".cxstream" / "datasets"
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("vaderSentiment-3.3.2.tar.gz"))
    if not found:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                            "-d", tmp, SDIST], check=True)
            (archive,) = Path(tmp).glob("*.tar.gz")
            (cache / archive.name).write_bytes(archive.read_bytes())
        found = sorted(cache.glob("vaderSentiment-3.3.2.tar.gz"))
    data = found[0].read_bytes()
    if hashlib.sha256(data).hexdigest() != SDIST_SHA256:
        raise SystemExit(f"{found[0]} does not have the pinned SHA-256; delete it and run again")
    with tarfile.open(fileobj=io.BytesIO(data)) as sdist:
        inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
        assert inner is not None
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as resources:
            out = {}
            for name in SETS:
                member = resources.extractfile(f"hutto_ICWSM_2014/{name}_GroundTruth.txt")
                assert member is not None
                rows = []
                for line in member.read().decode("utf-8", errors="replace").splitlines():
                    parts = line.split("\t", 2)
                    if len(parts) == 3 and parts[1].strip():
                        rows.append((float(parts[1]), parts[2]))
                out[name] = rows
            return out


def evaluate(rows: list[tuple[float, str]]) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "udfs"))
    import pandas as pd
    import sentiment

    polar = [(r, t) for r, t in rows if r != 0]
    truth = np.array([1 if r > 0 else -1 for r, _ in polar])
    scores = sentiment.compound_scores(pd.Series([t for _, t in polar])).to_numpy()
    predicted = np.where(scores >= 0.05, 1, np.where(scores <= -0.05, -1, 0))
    f1 = []
    for label in (1, -1):
        tp = int(((predicted == label) & (truth == label)).sum())
        precision = tp / max(int((predicted == label).sum()), 1)
        recall = tp / max(int((truth == label).sum()), 1)
        f1.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"texts": len(polar), "accuracy": float((predicted == truth).mean()), "macro_f1": float(np.mean(f1)),
            "neutral_share": float((predicted == 0).mean()),
            "pearson_r_vs_human_mean": float(np.corrcoef(scores, [r for r, _ in polar])[0, 1])}


def main() -> int:
    results = {name: evaluate(rows) for name, rows in ground_truth().items()}
    print(f"{'set':<22} {'texts':>6} {'accuracy':>9} {'macro F1':>9} {'neutral':>8} {'r (human)':>10}")
    for name, r in results.items():
        print(f"{name:<22} {r['texts']:>6,} {r['accuracy']:>9.3f} {r['macro_f1']:>9.3f} {r['neutral_share']:>8.3f} "
              f"{r['pearson_r_vs_human_mean']:>10.3f}")
    out = REPO / "bench" / "results" / "sentiment_accuracy.json"
    out.write_text(json.dumps({"model": "vaderSentiment 3.3.2", "dataset": "Hutto & Gilbert ICWSM 2014 ground truth",
                               "results": results}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
