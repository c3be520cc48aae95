"""Realistic, keyed, event-timestamped customer-experience traffic for the four input topics.

    from cxstream.simulator import SimulatorConfig, generate, run
    events = generate(SimulatorConfig(clock="simulated", start_ms=..., count=10_000, bad_share=0.02))
    stats = run(SimulatorConfig(rate=2000, duration_s=60), "127.0.0.1:9092")

`generate` is pure (no Kafka) and deterministic for a seed on the simulated clock; `run` produces with
kafka-python and reports per-topic counts. The command line is `cxstream simulate` (see cli.py).
"""

from cxstream.simulator.config import SimulatorConfig
from cxstream.simulator.engine import generate
from cxstream.simulator.events import ProducedRecord, SimEvent, SimulationStats, TopicStats
from cxstream.simulator.hostile import BAD_KINDS
from cxstream.simulator.producer import run
from cxstream.simulator.scenarios import SCENARIOS, scenario_customer_id

__all__ = ["BAD_KINDS", "SCENARIOS", "ProducedRecord", "SimEvent", "SimulationStats", "SimulatorConfig",
           "TopicStats", "generate", "run", "scenario_customer_id"]
