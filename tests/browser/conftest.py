"""Fixtures of the panel's browser tests."""

from typing import Any

import pytest


@pytest.fixture
def fleet_key(vectors: dict[str, Any]) -> bytes:
    """The fleet key of the test vectors."""
    return bytes.fromhex(vectors["keys"]["fleet_key"])
