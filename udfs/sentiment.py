"""VADER sentiment as a vectorised (pandas) Flink UDF.

VADER is a lexicon-and-rules model: its lexicon ships inside the vaderSentiment wheel, so nothing is
downloaded at run time, and scoring is a few microseconds of Python per short message. The analyzer
is built once per Python worker (loading the lexicon takes ~50 ms), not once per row or batch.
"""

from __future__ import annotations

import functools

import pandas as pd

NEGATIVE = -0.05  # VADER's own convention: compound <= -0.05 is negative, >= 0.05 positive


@functools.cache
def _analyzer():  # noqa: ANN202 - vaderSentiment has no type hints
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_scores(texts: pd.Series) -> pd.Series:
    """VADER compound score in [-1, 1] for each text (0.0 for an empty or missing text)."""
    analyzer = _analyzer()
    return texts.map(lambda t: analyzer.polarity_scores(t)["compound"] if isinstance(t, str) and t else 0.0)


def register(t_env) -> None:  # noqa: ANN001 - a pyflink TableEnvironment
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    vader_compound = udf(compound_scores, result_type=DataTypes.DOUBLE(), func_type="pandas")
    t_env.create_temporary_function("vader_compound", vader_compound)
