"""The logging configuration of the Flink JVM that PyFlink starts in this process.

It is PyFlink's own (conf/log4j-cli.properties) plus one filter, for one false alarm:

Every query whose rows are collected to Python (`cxstream sql`) runs on a per-job MiniCluster, and
Flink shuts that cluster down the moment the job finishes (MiniClusterJobClient, SHUTDOWN_CLUSTER),
usually before the client has read the last rows: the collect sink's last unread batch (up to
~2 MB) is left in the job's final result. When the client's buffer runs dry it asks the cluster for
the job's status, gets "MiniCluster is not yet running or has already been shut down", and
CollectResultFetcher.isJobTerminated logs

    WARN CollectResultFetcher - Failed to get job status so we assume that the job has terminated.
    Some data might be lost.

after every such query, once from hasNext() and once more from close(). In Flink 2.3 that sentence
is not true of what happens next: having "assumed" termination, CollectResultFetcher.next() reads
the sink's last unread rows from the job's final result (the collect accumulator, which the job
client keeps after the cluster is gone), and throws an IOException if it cannot ("Failed to fetch
job execution result", "Job terminated abnormally, no job execution result can be fetched") rather
than end the iteration short. Measured (6,000 rows of 1 kB, one job): the warning came 5 s after
the job had finished, and 1,921 rows reached Python after it, every id once. close() only skips
cancelling a job it believes has ended; `cxstream sql` cancels a query it stopped early itself
(cxstream.sqlrun.run_query). So a real loss reaches the caller as an error whether or not this line
is logged (a failing job logs the very same line, then the iterator raises). tests/test_sql.py
checks both halves: a result of many batches arrives whole with no such line logged, and a job
failing mid-result is an error, not a short table.

The filter matches that one message from that one logger. Every other warning of the collect
client, such as a failed fetch that it retries, is still logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from cxstream.paths import sub_dir

ENV = "LOG4J_PROPERTIES"  # read by pyflink_gateway_server when it starts the JVM

FETCHER = "org.apache.flink.streaming.api.operators.collect.CollectResultFetcher"
FALSE_ALARM = "Failed to get job status so we assume that the job has terminated. Some data might be lost."

_FILTER = f"""
# cxstream (cxstream/flink_logging.py): the collect client's "Some data might be lost" after a
# per-job MiniCluster shut down with its finished job is a false alarm; a real loss is an exception.
logger.cxcollectfetcher.name = {FETCHER}
logger.cxcollectfetcher.level = ${{env:ROOT_LOG_LEVEL:-INFO}}
logger.cxcollectfetcher.filter.falsealarm.type = RegexFilter
logger.cxcollectfetcher.filter.falsealarm.regex = {FALSE_ALARM.replace('.', '[.]')}
logger.cxcollectfetcher.filter.falsealarm.onMatch = DENY
logger.cxcollectfetcher.filter.falsealarm.onMismatch = NEUTRAL
"""


def _pyflink_config() -> Path:
    import pyflink

    return Path(pyflink.__file__).parent / "conf" / "log4j-cli.properties"


def log4j_properties() -> Path:
    """PyFlink's log4j configuration with the filter added, written under the run directory."""
    text = _pyflink_config().read_text() + _FILTER
    path = sub_dir("flink") / "log4j-cli.properties"
    # Rewritten only when it changes: the configuration has monitorInterval set, and a JVM that sees
    # its file touched reconfigures, which re-creates its log file (append = false).
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def configure_before_gateway() -> None:
    """Have the Flink JVM this process starts use log4j_properties(), unless the user chose a file.

    Only a JVM started after this call reads it; PyFlink starts one per process, on first use.
    """
    if ENV not in os.environ:
        os.environ[ENV] = str(log4j_properties())
