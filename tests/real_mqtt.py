"""Home Assistant's real MQTT integration on a real broker, for pytest-homeassistant tests."""

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from microhome_tools.broker import Mosquitto


async def async_setup_real_mqtt(hass: HomeAssistant, broker: Mosquitto) -> MockConfigEntry:
    """Set up the MQTT integration against `broker` (no mqtt_mock)."""
    entry = MockConfigEntry(
        domain="mqtt",
        data={"broker": broker.host, "port": broker.port},
        version=2,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def wait_for(hass: HomeAssistant, condition: Callable[[], Any], within: float = 30) -> Any:
    """Poll `condition` while Home Assistant works, until it returns something true."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        await hass.async_block_till_done()
        if result := condition():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")
