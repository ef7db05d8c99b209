"""Fixtures shared by every test directory."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from microhome_tools.broker import Mosquitto

VECTORS_PATH = Path(__file__).parent / "vectors" / "protocol.json"

# Property-based tests are reproducible in CI: the same examples every run (derandomize), no
# example database carried between runs, no timing limits (the machine is shared).
settings.register_profile(
    "microhome",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("microhome")


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """The protocol test vectors shared with the firmware tests."""
    return json.loads(VECTORS_PATH.read_text())


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real mosquitto broker on a free loopback port."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()
