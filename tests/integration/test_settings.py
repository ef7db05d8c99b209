"""MicroHome's global settings: defaults, validation, storage and the websocket commands."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.microhome.logs import DATA_LOGS
from custom_components.microhome.settings import (
    STORAGE_KEY,
    Settings,
    StoredSettings,
    async_get_manager,
    async_get_settings,
)

from .conftest import NODE_ID
from .test_logs import entry, microhome, send_log  # noqa: F401

DEFAULTS = {
    "ftp_port": 2121,
    "ftp_passive_ports": [2122, 2131],
    "ha_address": "",
    "log_history": 5000,
}


def stored(data: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "minor_version": 1, "key": STORAGE_KEY, "data": data}


async def test_defaults_work_untouched(hass: HomeAssistant) -> None:
    with patch("homeassistant.components.network.async_get_source_ip", return_value="192.168.1.20"):
        settings = await async_get_settings(hass)
    assert settings == Settings(
        ftp_port=2121,
        ftp_passive_ports=(2122, 2131),
        ha_address="192.168.1.20",
        ha_address_auto=True,
        log_history=5000,
    )
    assert list(settings.passive_port_range) == list(range(2122, 2132))


async def test_address_falls_back_without_a_network(hass: HomeAssistant) -> None:
    with patch(
        "homeassistant.components.network.async_get_source_ip",
        side_effect=HomeAssistantError("no network"),
    ):
        settings = await async_get_settings(hass)
    assert settings.ha_address == "127.0.0.1"


async def test_stored_settings_are_loaded(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    hass_storage[STORAGE_KEY] = stored(
        {
            "ftp_port": 2200,
            "ftp_passive_ports": [3000, 3009],
            "ha_address": "ha.local",
            "log_history": 800,
        }
    )
    settings = await async_get_settings(hass)
    assert settings == Settings(
        ftp_port=2200,
        ftp_passive_ports=(3000, 3009),
        ha_address="ha.local",
        ha_address_auto=False,
        log_history=800,
    )


async def test_invalid_stored_settings_fall_back_to_defaults(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hass_storage[STORAGE_KEY] = stored({"ftp_port": "many", "log_history": 10})
    manager = await async_get_manager(hass)
    assert manager.stored == StoredSettings()
    assert "Stored MicroHome settings are invalid" in caplog.text


@pytest.mark.usefixtures("microhome")
async def test_websocket_get_and_set(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, hass_storage: dict[str, Any]
) -> None:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "microhome/settings/get"})
    result = (await client.receive_json())["result"]
    assert result["settings"] == DEFAULTS
    assert result["defaults"] == DEFAULTS
    assert result["ha_address_default"]

    await client.send_json_auto_id(
        {
            "type": "microhome/settings/set",
            "ftp_port": 2300,
            "ftp_passive_ports": [2400, 2410],
            "ha_address": " 192.168.1.5 ",
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    expected = {
        "ftp_port": 2300,
        "ftp_passive_ports": [2400, 2410],
        "ha_address": "192.168.1.5",
        "log_history": 5000,
    }
    assert response["result"]["settings"] == expected
    assert hass_storage[STORAGE_KEY]["data"] == expected
    settings = await async_get_settings(hass)
    assert (settings.ha_address, settings.ha_address_auto) == ("192.168.1.5", False)

    # An empty address goes back to automatic.
    await client.send_json_auto_id({"type": "microhome/settings/set", "ha_address": ""})
    assert (await client.receive_json())["result"]["settings"]["ha_address"] == ""
    assert (await async_get_settings(hass)).ha_address_auto is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ftp_port": 0}, "ftp_port"),
        ({"ftp_port": 70000}, "ftp_port"),
        ({"ftp_port": "21"}, "ftp_port"),
        ({"ftp_port": 2125}, "outside the passive port range"),
        ({"ftp_passive_ports": [2131, 2122]}, "first passive port is above the last"),
        ({"ftp_passive_ports": [2122]}, "ftp_passive_ports"),
        ({"ftp_passive_ports": [1, 5000]}, "at most 1001 passive ports"),
        ({"ha_address": "not an address!"}, "not an IP address or host name"),
        ({"ha_address": "300.1.1.1"}, "not an IP address or host name"),
        ({"log_history": 99}, "log_history"),
        ({"log_history": 100_001}, "log_history"),
        ({"colour": "blue"}, "colour"),
    ],
)
@pytest.mark.usefixtures("microhome")
async def test_websocket_set_refuses_bad_values(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_storage: dict[str, Any],
    change: dict[str, Any],
    reason: str,
) -> None:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "microhome/settings/set", "log_history": 700, **change})
    response = await client.receive_json()
    assert response["success"] is False
    assert response["error"]["code"] == "invalid_format"
    assert reason in response["error"]["message"]
    # Nothing changed, not even the valid part of the request.
    assert (await async_get_manager(hass)).stored == StoredSettings()
    assert STORAGE_KEY not in hass_storage


@pytest.mark.usefixtures("microhome")
async def test_history_size_applies_at_once(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    for start in range(0, 300, 100):  # a payload is at most 16 KiB
        await send_log(hass, NODE_ID, 1, [entry(i, f"line {i}") for i in range(start, start + 100)])
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "microhome/settings/set", "log_history": 100})
    assert (await client.receive_json())["success"]
    lines = hass.data[DATA_LOGS].nodes[NODE_ID].entries
    assert len(lines) == 100
    assert lines[-1][8] == "line 299"
    await send_log(hass, NODE_ID, 1, [entry(300, "line 300")])
    assert len(lines := hass.data[DATA_LOGS].nodes[NODE_ID].entries) == 100
    assert lines[-1][8] == "line 300"
