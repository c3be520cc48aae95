"""Great Expectations suites evaluated per event-time window, inside the Flink job.

`dq_check(table, row_json)` is a Python aggregate over one window's rows: it keeps the rows and, when
the window closes, validates them as one pandas batch against the table's suite
(schemas/expectations/<contract>.json) and returns every expectation's result as JSON. `dq_results(result)`
is a table function that turns that JSON into one row per expectation, `breached` when it failed.

GE runs in an ephemeral context (no project directory, no network, analytics and progress bars
off), created once per Python worker: importing GE and creating it takes ~4 s of CPU on a quiet
machine, one validation of a window ~0.1–0.3 s. `warm_up()` does the former ahead of time where the
workers are threads of the submitting process (cxstream.runtime.python_workers_run_here): done at
the first window instead, it took 25 s in the loaded suite, and the window operator stopped taking
input all that time.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
SUITES_DIR = Path(__file__).resolve().parent.parent / "schemas" / "expectations"


@functools.cache
def _batch_definition():  # noqa: ANN202 - a GE batch definition
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # noqa: BLE001 - progress bars are cosmetic
        pass
    asset = context.data_sources.add_pandas("cxstream").add_dataframe_asset("window")
    return asset.add_batch_definition_whole_dataframe("rows")


def warm_up() -> None:
    """GE's import and context, before the first window needs them."""
    _batch_definition()


def load_suite(contract: str) -> dict:
    return json.loads((SUITES_DIR / f"{contract}.json").read_text())


def evaluate(suite: dict, rows: list[dict]) -> list[dict]:
    """Validate rows as one batch; one dict per failed expectation (observed value, bound, why)."""
    return [r for r in evaluate_all(suite, rows) if not r["success"]]


def evaluate_all(suite: dict, rows: list[dict]) -> list[dict]:
    """Validate rows as one batch; one dict per expectation, passed or failed (`success`).

    The passes matter downstream: a window where an expectation holds again is what resolves its
    open alert (udfs/alert_dedup.py).
    """
    import great_expectations as gx
    import pandas as pd
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    columns = suite["meta"]["columns"]
    frame = pd.DataFrame(rows, columns=columns)
    expectations = [ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})).to_domain_obj()
                    for e in suite["expectations"]]
    gx_suite = gx.ExpectationSuite(name=suite["name"], expectations=expectations)
    result = _batch_definition().get_batch(batch_parameters={"dataframe": frame}).validate(gx_suite)
    results = []
    for spec, r in zip(suite["expectations"], result.results, strict=True):
        details = r.result or {}
        observed = details.get("observed_value", details.get("unexpected_percent"))
        kwargs = spec["kwargs"]
        threshold = None
        if observed is not None and kwargs.get("max_value") is not None and float(observed) > kwargs["max_value"]:
            threshold = kwargs["max_value"]
        elif observed is not None and kwargs.get("min_value") is not None:
            threshold = kwargs["min_value"]
        elif kwargs.get("max_value") is not None:  # passed: the bound it is measured against
            threshold = kwargs["max_value"]
        unit = "% of rows unexpected" if "observed_value" not in details else ""
        results.append({
            "expectation": spec["type"], "column": kwargs.get("column"), "success": bool(r.success),
            "severity": spec.get("meta", {}).get("severity", "warning"),
            "observed": None if observed is None else float(observed),
            "threshold": None if threshold is None else float(threshold),
            "detail": f"{spec['type']}({', '.join(f'{k}={v}' for k, v in kwargs.items())}) observed "
                      f"{observed}{unit} over {len(frame)} rows: {spec.get('meta', {}).get('why', '')}".strip(),
        })
    return results


def register(t_env) -> None:  # noqa: ANN001 - a pyflink TableEnvironment
    from pyflink.common import Row
    from pyflink.table import AggregateFunction, DataTypes
    from pyflink.table.udf import udaf, udtf

    suites = {"interactions": load_suite("interaction")}

    class DqCheck(AggregateFunction):
        def __init__(self, table_suites: dict) -> None:
            self.suites = table_suites

        def create_accumulator(self) -> Row:
            return Row("", [])

        def accumulate(self, acc: Row, table: str, row_json: str) -> None:
            acc[0] = table
            acc[1].append(row_json)

        def get_value(self, acc: Row) -> str:
            rows = [json.loads(r) for r in acc[1]]
            return json.dumps(evaluate_all(self.suites[acc[0]], rows) if acc[0] else [])

        def get_accumulator_type(self):  # noqa: ANN202
            return DataTypes.ROW([DataTypes.FIELD("table", DataTypes.STRING()),
                                  DataTypes.FIELD("rows", DataTypes.ARRAY(DataTypes.STRING()))])

        def get_result_type(self):  # noqa: ANN202
            return DataTypes.STRING()

    def results(result: str):  # noqa: ANN202 - a generator of rows
        for f in json.loads(result):
            yield (f["expectation"], f["column"], f["severity"], not f["success"], f["observed"], f["threshold"],
                   f["detail"])

    t_env.create_temporary_function("dq_check", udaf(DqCheck(suites)))
    t_env.create_temporary_function("dq_results", udtf(results, result_types=[
        DataTypes.STRING(), DataTypes.STRING(), DataTypes.STRING(), DataTypes.BOOLEAN(), DataTypes.DOUBLE(),
        DataTypes.DOUBLE(), DataTypes.STRING()]))
