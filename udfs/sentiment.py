"""VADER sentiment: a vectorised (pandas) Flink UDF, and the same score for one text.

VADER is a lexicon-and-rules model: its lexicon ships inside the vaderSentiment wheel, so nothing is
downloaded at run time, and scoring is a few microseconds of Python per short message. The analyzer
is built once per Python worker (loading the lexicon takes ~50 ms), not once per row or batch.
The decisions job scores each customer turn as it arrives, in its stream stage
(udfs/decisions_stage.py), with compound_score: the same function the UDF maps over a batch.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: the decisions stage's THREAD-mode interpreter needs no pandas
    import pandas as pd

NEGATIVE = -0.05  # VADER's own convention: compound <= -0.05 is negative, >= 0.05 positive


@functools.cache
def _analyzer():  # noqa: ANN202 - vaderSentiment has no type hints
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_score(text: str | None) -> float:
    """VADER compound score in [-1, 1] of one text (0.0 for an empty or missing text)."""
    return _analyzer().polarity_scores(text)["compound"] if isinstance(text, str) and text else 0.0


def compound_scores(texts: pd.Series) -> pd.Series:
    """compound_score of each text."""
    return texts.map(compound_score)


def register(t_env) -> None:  # noqa: ANN001 - a pyflink TableEnvironment
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    vader_compound = udf(compound_scores, result_type=DataTypes.DOUBLE(), func_type="pandas")
    t_env.create_temporary_function("vader_compound", vader_compound)
