"""WorkerConfig (gpu_worker/config.py): the settings the worker reads from SCRIBEFLEET_* variables."""
from __future__ import annotations

import pytest

from gpu_worker.config import WorkerConfig


def test_idle_retirement_is_the_cost_rule_unless_told_otherwise() -> None:
    config = WorkerConfig.from_env({})
    assert (config.retirement, config.boot_seconds, config.warm_pool, config.latency_weight) == ("cost", 90.0, 0, 1.0)
    config = WorkerConfig.from_env({"SCRIBEFLEET_RETIREMENT": "fixed", "SCRIBEFLEET_IDLE_TIMEOUT": "20",
                                    "SCRIBEFLEET_BOOT_SECONDS": "75", "SCRIBEFLEET_WARM_POOL": "4"})
    assert (config.retirement, config.idle_timeout, config.boot_seconds, config.warm_pool) == ("fixed", 20.0, 75.0, 4)


@pytest.mark.parametrize("env", [
    {"SCRIBEFLEET_RETIREMENT": "never"}, {"SCRIBEFLEET_WARM_POOL": "-1"}, {"SCRIBEFLEET_BOOT_SECONDS": "-5"},
    {"SCRIBEFLEET_LATENCY_WEIGHT": "-1"},
])
def test_bad_retirement_settings_are_refused(env: dict) -> None:
    with pytest.raises(ValueError):
        WorkerConfig.from_env(env)
