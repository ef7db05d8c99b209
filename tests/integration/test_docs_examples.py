"""The examples of docs/examples.md, run by Home Assistant's own automation and template
integrations: they load, and they do what the page says."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.core import HomeAssistant, SupportsResponse
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from .conftest import NODE_ID, entity_id

PAGE = Path(__file__).resolve().parents[2] / "docs" / "examples.md"


def blocks() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)
    ]


def automations() -> list[dict[str, Any]]:
    return [item for block in blocks() for item in block.get("automation", [])]


def automation_named(alias: str) -> dict[str, Any]:
    return next(item for item in automations() if item["alias"] == alias)


async def setup_automations(hass: HomeAssistant, *aliases: str) -> None:
    config = [automation_named(alias) for alias in aliases]
    assert await async_setup_component(hass, "automation", {"automation": config})
    await hass.async_block_till_done()
    states = [state.state for state in hass.states.async_all("automation")]
    assert states == ["on"] * len(aliases)  # an invalid automation is unavailable


def test_every_example_block_is_used() -> None:
    kinds = [next(iter(block)) for block in blocks()]
    assert kinds == ["automation", "automation", "automation", "template"]
    assert len(automations()) == 4


async def test_motion_light(hass: HomeAssistant) -> None:
    turn_on = async_mock_service(hass, "light", "turn_on")
    turn_off = async_mock_service(hass, "light", "turn_off")
    hass.states.async_set("binary_sensor.hallway_motion", "off")
    await setup_automations(hass, "Hallway night light on motion", "Hallway night light off")
    hass.states.async_set("binary_sensor.hallway_motion", "on")
    await hass.async_block_till_done()
    assert [call.data for call in turn_on] == [
        {"entity_id": ["light.hallway_night_light"], "brightness": 120, "transition": 1}
    ]
    hass.states.async_set("binary_sensor.hallway_motion", "off")
    await hass.async_block_till_done()
    assert turn_off == []  # not before two minutes without motion
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2, seconds=1))
    await hass.async_block_till_done()
    assert [call.data for call in turn_off] == [
        {"entity_id": ["light.hallway_night_light"], "transition": 5}
    ]


async def test_nightly_update_of_every_node(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The Kitchen node of the integration tests has the only update entity."""
    update = entity_id(hass, "update", "firmware")
    hass.states.async_set(update, "on")
    response = {
        "nodes": {
            NODE_ID: {
                "name": "Living room",
                "result": "done",
                "version": "1.3.0",
                "from_version": "1.2.0",
                "duration": 41.5,
                "error": None,
            },
            "hall": {
                "name": "Hallway",
                "result": "failed",
                "version": "1.3.0",
                "from_version": "1.2.0",
                "duration": 5.0,
                "error": "no FTP connection",
            },
        }
    }
    ota = async_mock_service(
        hass,
        "microhome",
        "ota_update",
        response=response,
        supports_response=SupportsResponse.OPTIONAL,
    )
    notify = async_mock_service(hass, "persistent_notification", "create")
    await setup_automations(hass, "Update MicroHome nodes")
    entity = hass.states.async_all("automation")[0].entity_id

    async def run() -> None:
        await hass.services.async_call(
            "automation", "trigger", {"entity_id": entity, "skip_condition": False}, blocking=True
        )
        await hass.async_block_till_done()

    await run()
    assert [call.data["entity_id"] for call in ota] == [[update]]
    assert ota[0].data["concurrency"] == 2
    message = notify[0].data["message"]
    assert "Living room: done (1.2.0 → 1.3.0)" in message
    assert "Hallway: failed (1.2.0 → 1.3.0), no FTP connection" in message
    # Nothing to install: the condition stops it.
    hass.states.async_set(update, "off")
    await run()
    assert len(ota) == 1
    await hass.services.async_call("automation", "turn_off", {"entity_id": entity}, blocking=True)


@pytest.mark.parametrize(
    ("level", "alerted"), [("W", False), ("E", True), ("C", True), ("I", False)]
)
async def test_alert_on_node_problems(hass: HomeAssistant, level: str, alerted: bool) -> None:
    notify = async_mock_service(hass, "persistent_notification", "create")
    await setup_automations(hass, "MicroHome node problems")
    hass.bus.async_fire(
        "microhome_log",
        {
            "node_id": "mh-a1b2c3",
            "level": level,
            "source": "dht22",
            "message": "<b>no reading</b>\n",
        },
    )
    await hass.async_block_till_done()
    if not alerted:
        assert notify == []
        return
    assert notify[0].data["title"] == "MicroHome mh-a1b2c3"
    assert f"{level} dht22:" in notify[0].data["message"]
    assert "<b>no reading</b>" in notify[0].data["message"]


async def test_heat_exchanger_efficiency(hass: HomeAssistant) -> None:
    template = next(block for block in blocks() if "template" in block)
    probe = "sensor.heat_exchanger_cellar_t{}_temperature".format
    hot_in, cold_in, cold_out = probe("1_hot_in"), probe("3_cold_in"), probe("4_cold_out")
    for sensor, value in ((hot_in, "60.0"), (cold_in, "10.0"), (cold_out, "40.0")):
        hass.states.async_set(sensor, value)
    assert await async_setup_component(hass, "template", template)
    await hass.async_block_till_done()
    efficiency = "sensor.heat_exchanger_efficiency"
    assert hass.states.get(efficiency).state == "60"
    assert hass.states.get(efficiency).attributes["unit_of_measurement"] == "%"
    hass.states.async_set(hot_in, "12.0")  # 2 °C apart: noise
    await hass.async_block_till_done()
    assert hass.states.get(efficiency).state == "unknown"
    hass.states.async_set(cold_in, "unavailable")  # the probe does not answer
    await hass.async_block_till_done()
    assert hass.states.get(efficiency).state == "unavailable"
    hass.states.async_set(cold_in, "10.0")
    hass.states.async_set(hot_in, "70.0")
    hass.states.async_set(cold_out, "58.0")
    await hass.async_block_till_done()
    assert hass.states.get(efficiency).state == "80"
