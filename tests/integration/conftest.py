"""Fixtures for the integration tests: a mocked MQTT broker and a configured node."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Generator
from datetime import timedelta
from typing import Any
from unittest.mock import MagicMock, patch

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import (
    MqttMockHAClient,
    MqttMockHAClientGenerator,
)

from custom_components.microhome import const
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.keys import STORAGE_KEY, STORAGE_VERSION

NODE_ID = "mh-a1b2c3"
PREFIX = f"microhome/{NODE_ID}"

SENSORS: list[dict[str, Any]] = [
    {"id": "climate", "type": "dht22", "name": "Climate", "pin": 15, "interval": 30},
    {"id": "pir", "type": "motion", "name": "Hall motion", "pin": 16, "off_delay": 30},
    {"id": "lamp", "type": "led", "name": "Lamp", "pin": 14, "freq": 1000},
    {"id": "status", "type": "status_led", "name": "Status", "pin": "LED"},
]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ in every test."""


@pytest.fixture(autouse=True)
def frontend_loaded(hass: HomeAssistant) -> None:
    """Count `frontend` as set up, so tests do not need its built files (hass_frontend).

    panel_custom, a dependency of microhome, only needs frontend's panel registry, which
    works without them.
    """
    hass.config.components.add("frontend")


@pytest.fixture(autouse=True)
def short_reply_timeout() -> Generator[None]:
    """Commands give up waiting for a reply after 0.2 s instead of 5 s."""
    with patch.object(const, "REPLY_TIMEOUT", 0.2):
        yield


@pytest.fixture
async def mqtt_mock(
    hass: HomeAssistant,
    mock_hass_config: None,
    mqtt_client_mock: MagicMock,
    mqtt_mock_entry: MqttMockHAClientGenerator,
) -> AsyncGenerator[MqttMockHAClient]:
    """The mocked MQTT client; MQTT is unloaded after the test so its timers stop."""
    client = await mqtt_mock_entry()
    yield client
    for domain in (DOMAIN, "mqtt"):
        for entry in hass.config_entries.async_entries(domain):
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=10))
        await hass.async_block_till_done()


@pytest.fixture
def fleet_key(vectors: dict[str, Any], hass_storage: dict[str, Any]) -> bytes:
    """The fleet key of the test vectors, as if Home Assistant had stored it before."""
    key = vectors["keys"]["fleet_key"]
    hass_storage[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {"fleet_key": key},
    }
    return bytes.fromhex(key)


@pytest.fixture
def announce(vectors: dict[str, Any]) -> dict[str, Any]:
    """The vectors' announce of node mh-a1b2c3 (an rp2 with key id 641b0e32)."""
    return dict(vectors["node_payloads"]["announce"])


def make_options(sensors: list[dict[str, Any]] | None = None, version: int = 7) -> dict[str, Any]:
    """Options of a node with sensors, configuration version 7."""
    return {
        "version": version,
        "name": "Kitchen",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": [dict(s) for s in (SENSORS if sensors is None else sensors)],
    }


@pytest.fixture
def config_entry(announce: dict[str, Any]) -> MockConfigEntry:
    """A configured node with one sensor of every type."""
    return MockConfigEntry(
        domain=DOMAIN,
        unique_id=NODE_ID,
        title="Kitchen",
        data={"node_id": NODE_ID, "platform": "rp2", "announce": announce},
        options=make_options(),
    )


type Fire = Callable[..., None]


@pytest.fixture
def fire(hass: HomeAssistant) -> Fire:
    """Send a message from the node: fire("status", "online"), fire("state/lamp", {...})."""

    def send(suffix: str, payload: Any, retain: bool = False) -> None:
        text = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        async_fire_mqtt_message(hass, f"{PREFIX}/{suffix}", text, retain=retain)

    return send


@pytest.fixture
async def loaded_entry(
    *,
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
    fire: Fire,
    announce: dict[str, Any],
) -> MockConfigEntry:
    """The node set up, online, with its announce received."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online", retain=True)
    fire("announce", announce, retain=True)
    await hass.async_block_till_done()
    mqtt_mock.async_publish.reset_mock()
    return config_entry


def published(mqtt_mock: MqttMockHAClient, suffix: str) -> list[tuple[str, int, bool]]:
    """(payload, qos, retain) of every message published to microhome/mh-a1b2c3/<suffix>."""
    return [
        (call.args[1], call.args[2], call.args[3])
        for call in mqtt_mock.async_publish.call_args_list
        if call.args[0] == f"{PREFIX}/{suffix}"
    ]


def entity_id(hass: HomeAssistant, platform: str, key: str) -> str:
    """The entity id of the node's entity with unique id `mh-a1b2c3_<key>`."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{NODE_ID}_{key}")
    assert found is not None, f"no {platform} entity {key}"
    return found


def node_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    """The node's device."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, NODE_ID), entry.entry_id)
    assert device is not None
    return device
