"""Fixtures shared by every test directory."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools.broker import Mosquitto

VECTORS_PATH = Path(__file__).parent / "vectors" / "protocol.json"


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
