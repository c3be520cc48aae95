"""Where things live: the repository's definition folders and the per-checkout run directory.

Everything the tools create at run time (downloaded wheels, extracted and compiled jars, broker
logs, PID files, checkpoints, bench output) goes under one run directory, `.cxstream/` at the
repository root unless CXSTREAM_HOME says otherwise, so that `rm -rf .cxstream` is a full reset.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = REPO_ROOT / "schemas"
SQL_DIR = REPO_ROOT / "sql"
JOBS_DIR = REPO_ROOT / "jobs"
UDFS_DIR = REPO_ROOT / "udfs"
CONNECTOR_DIR = REPO_ROOT / "connector"
BENCH_RESULTS_DIR = REPO_ROOT / "bench" / "results"


def run_dir() -> Path:
    """The run directory, created on first use."""
    path = Path(os.environ.get("CXSTREAM_HOME", REPO_ROOT / ".cxstream")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def sub_dir(name: str) -> Path:
    path = run_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def site_packages(python: str | None = None) -> str:
    """The site-packages of `python` (default: this interpreter), os.pathsep-joined.

    Flink's THREAD mode runs Python inside the TaskManager's JVM; that embedded interpreter starts
    from the base installation and does not see a virtualenv's packages unless they are named in
    `python.pythonpath`.
    """
    import site
    import subprocess
    import sys

    if python is None or Path(python).resolve() == Path(sys.executable).resolve():
        return os.pathsep.join(site.getsitepackages())
    code = "import os, site; print(os.pathsep.join(site.getsitepackages()))"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30)
    except OSError as err:
        raise ValueError(f"cannot run the Python interpreter {python!r}: {err.strerror}") from err
    if done.returncode != 0:
        raise ValueError(f"the Python interpreter {python!r} failed: {done.stderr.strip()}")
    return done.stdout.strip()
