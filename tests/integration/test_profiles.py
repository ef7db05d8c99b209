"""Profiles through Home Assistant: made from a node, followed by several with overrides,
edited, applied by service and websocket, chosen when a node is added, left, deleted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.microhome import protocol
from custom_components.microhome.client import Change
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.fleet import DATA_PROFILES, STORAGE_KEY, ProfileManager

from .conftest import NODE_ID, SENSORS, make_options
from .test_fleet_websocket import error_of
from .test_ota_service import add_node, device_id
from .test_update import send
from .test_websocket import call

PROFILE_SENSORS = [s for s in SENSORS if s["type"] != "status_led"]


def configs(mqtt_mock: MqttMockHAClient, fleet_key: bytes, node_id: str) -> list[dict[str, Any]]:
    """Every configuration sent to node_id, verified with its key."""
    topic = f"microhome/{node_id}/config/set"
    key = protocol.node_key(fleet_key, node_id)
    return [
        protocol.verify(key, topic, call.args[1])
        for call in mqtt_mock.async_publish.call_args_list
        if call.args[0] == topic
    ]


def by_id(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in config["sensors"]}


@dataclass
class Fleet:
    """The Kitchen node following profile "Room sensor" (made of its configuration, without
    the status LED), and how to add more nodes."""

    hass: HomeAssistant
    mqtt_mock: MqttMockHAClient
    fleet_key: bytes
    announce: dict[str, Any]
    kitchen: MockConfigEntry
    room: dict[str, Any]

    async def add_node(self, node_id: str, **announced: Any) -> MockConfigEntry:
        return await add_node(self.hass, self.fleet_key, self.announce, node_id, **announced)

    def configs(self, node_id: str) -> list[dict[str, Any]]:
        return configs(self.mqtt_mock, self.fleet_key, node_id)


@pytest.fixture
async def fleet(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    announce: dict[str, Any],
    loaded_entry: MockConfigEntry,
) -> Fleet:
    hass.config_entries.async_update_entry(
        loaded_entry, options=make_options(PROFILE_SENSORS, version=8)
    )
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    result = await call(
        client, type="microhome/profiles/create", name="Room sensor", entry_id=loaded_entry.entry_id
    )
    await hass.async_block_till_done()
    return Fleet(hass, mqtt_mock, fleet_key, announce, loaded_entry, dict(result["profile"]))


async def test_profile_edit_reaches_every_follower_and_keeps_overrides(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_storage: dict[str, Any],
    fleet: Fleet,
) -> None:
    assert fleet.room["id"] == "room_sensor"
    assert fleet.kitchen.options["profile"] == "room_sensor"
    nodes = [await fleet.add_node(f"room-{n}") for n in range(3)]
    fleet.mqtt_mock.async_publish.reset_mock()
    client = await hass_ws_client(hass)
    result = await call(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[e.entry_id for e in nodes],
        profile="room_sensor",
        overrides={"room-1": {"climate": {"pin": "GP2", "name": "Desk climate"}}},
    )
    assert {r["result"] for r in result["results"].values()} == {"pending"}
    for entry in nodes:
        (config,) = fleet.configs(entry.unique_id)
        assert config["name"] == entry.unique_id  # each node keeps its own name
        assert config["version"] == 8  # above the node's announced cfg 7
        expected_pin = 2 if entry.unique_id == "room-1" else 15
        assert by_id(config)["climate"]["pin"] == expected_pin
    assert nodes[1].options["sensors"][0]["name"] == "Desk climate"

    # The profile changes: every follower gets it, room-1 keeps its own climate pin.
    fleet.mqtt_mock.async_publish.reset_mock()
    lamp = {**PROFILE_SENSORS[2], "freq": 2000}
    result = await call(
        client,
        type="microhome/profiles/update",
        profile="room_sensor",
        telemetry_interval=30,
        sensors=[*PROFILE_SENSORS[:2], lamp],
    )
    assert set(result["results"]) == {NODE_ID, "room-0", "room-1", "room-2"}
    assert {r["result"] for r in result["results"].values()} == {"pending"}
    for node_id in (NODE_ID, "room-0", "room-1", "room-2"):
        (config,) = fleet.configs(node_id)
        assert config["telemetry_interval"] == 30
        assert by_id(config)["lamp"]["freq"] == 2000
        assert by_id(config)["climate"]["pin"] == (2 if node_id == "room-1" else 15)

    # One node refuses its configuration: a repair names it, the others are not held up.
    version = nodes[0].options["version"]
    send(
        hass, "room-0", "config/state", {"version": version, "ok": False, "errors": ["pin 15 busy"]}
    )
    for entry in nodes[1:]:
        send(
            hass,
            entry.unique_id,
            "config/state",
            {"version": entry.options["version"], "ok": True, "errors": []},
        )
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "config_rejected_room-0")
    assert issue is not None and issue.translation_placeholders["name"] == "room-0"
    rows = {n["id"]: n for n in (await call(client, type="microhome/nodes/list"))["nodes"]}
    assert rows["room-0"]["config_state"] == "rejected"
    assert rows["room-0"]["config_errors"] == ["pin 15 busy"]
    assert rows["room-1"]["config_state"] == "applied"
    assert rows["room-1"]["profile_name"] == "Room sensor"
    assert rows["room-1"]["overrides"] == {"climate": {"pin": 2, "name": "Desk climate"}}

    # The profile is in storage, as Home Assistant's backups keep it.
    stored = hass_storage[STORAGE_KEY]["data"]["profiles"]
    assert [p["id"] for p in stored] == ["room_sensor"]
    reloaded = ProfileManager(hass)
    await reloaded.async_load()
    assert reloaded.profiles["room_sensor"].telemetry_interval == 30

    # Deleting the profile: its nodes keep their configuration as their own, nothing is sent.
    fleet.mqtt_mock.async_publish.reset_mock()
    before = dict(nodes[1].options)
    result = await call(client, type="microhome/profiles/delete", profile="room_sensor")
    assert sorted(result["own_configuration"]) == [NODE_ID, "room-0", "room-1", "room-2"]
    await hass.async_block_till_done()
    assert "profile" not in nodes[1].options
    assert nodes[1].options["sensors"] == before["sensors"]
    assert nodes[1].options["version"] == before["version"]
    assert fleet.configs("room-1") == []
    assert (await call(client, type="microhome/profiles/list"))["profiles"] == []


async def test_a_node_the_profile_does_not_suit_keeps_its_configuration(
    *,
    hass: HomeAssistant,
    fleet: Fleet,
) -> None:
    """An ESP32 cannot use the Pico's GP28; it keeps its configuration, the others go on."""
    esp = await fleet.add_node("esp-1", platform="esp32", board="ESP32")
    pico = await fleet.add_node("pico-1")
    response = await hass.services.async_call(
        DOMAIN,
        "apply_profile",
        {"device_id": [], "profile": "room_sensor", "entity_id": [], "area_id": []}
        | {"device_id": [device_id(hass, "esp-1"), device_id(hass, "pico-1")]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["nodes"]["esp-1"]["result"] == "pending"  # pins 15, 16, 14 exist on both
    fleet.mqtt_mock.async_publish.reset_mock()
    client_sensors = [*PROFILE_SENSORS[:2], {**PROFILE_SENSORS[2], "pin": 28}]
    manager = hass.data[DATA_PROFILES]
    results = {
        r.node_id: r for r in await manager.async_update("room_sensor", {"sensors": client_sensors})
    }
    assert results["esp-1"].result == "rejected"
    assert any("sensors[2].pin" in error for error in results["esp-1"].errors)
    assert results["pico-1"].result == "pending"
    assert results[NODE_ID].result == "pending"
    assert fleet.configs("esp-1") == []
    assert by_id(esp.options)["lamp"]["pin"] == 14
    assert by_id(fleet.configs("pico-1")[0])["lamp"]["pin"] == 28
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "profile_refused_esp-1")
    assert issue is not None
    assert issue.translation_placeholders["name"] == "esp-1"
    assert pico.options["profile"] == "room_sensor"

    # Leaving the profile clears the repair; the node keeps what it runs.
    await hass.services.async_call(
        DOMAIN,
        "leave_profile",
        {"device_id": [device_id(hass, "esp-1")]},
        blocking=True,
        return_response=True,
    )
    assert "profile" not in esp.options
    assert ir.async_get(hass).async_get_issue(DOMAIN, "profile_refused_esp-1") is None


async def test_apply_profile_waits_for_the_nodes_answers(
    *,
    hass: HomeAssistant,
    fleet: Fleet,
) -> None:
    node = await fleet.add_node("waits")
    configured = asyncio.Event()
    node.runtime_data.listen(Change.CONFIG, configured.set)
    task = hass.async_create_task(
        hass.services.async_call(
            DOMAIN,
            "apply_profile",
            {"device_id": [device_id(hass, "waits")], "profile": "room_sensor", "wait": 10},
            blocking=True,
            return_response=True,
        )
    )
    await configured.wait()  # not async_block_till_done: it would wait for the service
    version = node.options["version"]
    send(
        hass,
        "waits",
        "config/state",
        {"version": version, "ok": False, "errors": ["no DHT22 on pin 15"]},
    )
    response = await task
    assert response == {
        "nodes": {
            "waits": {
                "name": "waits",
                "result": "rejected",
                "version": version,
                "errors": ["no DHT22 on pin 15"],
            }
        }
    }


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"profile": "nope"}, "unknown_profile"),
        ({"profile": "room_sensor", "overrides": {"climate": {"id": "x"}}}, "cannot be overridden"),
        ({"profile": "room_sensor", "overrides": {"climate": {"pin": "GP99"}}}, "sensors[0].pin"),
        ({"profile": "room_sensor", "overrides": {"lamp": {"freq": 10**30}}}, "sensors[2].freq"),
        ({"profile": "room_sensor", "overrides": {"ghost": {"pin": 3}}}, "no such peripheral"),
        ({"profile": "room_sensor", "overrides": {"climate": "\ud800<b>"}}, "invalid_profile"),
        (
            {"profile": "room_sensor", "overrides": {"climate": {"pin": "\ud800"}}},
            "invalid_profile",
        ),
    ],
)
async def test_apply_profile_refuses_bad_input_and_changes_nothing(
    *,
    hass: HomeAssistant,
    data: dict[str, Any],
    key: str,
    fleet: Fleet,
) -> None:
    node = await fleet.add_node("hostile")
    before = dict(node.options)
    fleet.mqtt_mock.async_publish.reset_mock()
    target = {"device_id": [device_id(hass, "hostile")]}
    if key not in ("unknown_profile", "invalid_profile"):
        response = await hass.services.async_call(
            DOMAIN, "apply_profile", target | data, blocking=True, return_response=True
        )
        assert response is not None
        assert response["nodes"]["hostile"]["result"] == "rejected"
        assert key in " ".join(response["nodes"]["hostile"]["errors"])
        issue = ir.async_get(hass).async_get_issue(DOMAIN, "profile_refused_hostile")
        assert issue is not None
    else:
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "apply_profile", target | data, blocking=True, return_response=True
            )
        assert err.value.translation_key == key
    assert dict(node.options) == before
    assert fleet.configs("hostile") == []


@pytest.mark.parametrize(
    "changes",
    [
        {"telemetry_interval": 4},
        {"telemetry_interval": 10**30},
        {"log_level": "<script>"},
        {"name": ""},
        {"sensors": [{"id": "x"}]},
        {"sensors": [{"id": "a\nb", "type": "led", "pin": 14}]},
        {"sensors": "all of them"},
    ],
)
async def test_a_bad_profile_edit_is_refused_with_its_reason(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    changes: dict[str, Any],
    fleet: Fleet,
) -> None:
    fleet.mqtt_mock.async_publish.reset_mock()
    before = dict(fleet.kitchen.options)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "microhome/profiles/update", "profile": "room_sensor", **changes}
    )
    response = await client.receive_json()
    assert response["success"] is False
    assert response["error"]["message"]
    assert dict(fleet.kitchen.options) == before
    profiles = (await call(client, type="microhome/profiles/list"))["profiles"]
    assert profiles == [fleet.room | {"followers": [fleet.kitchen.entry_id]}]
    assert fleet.mqtt_mock.async_publish.call_count == 0


async def test_discovered_node_added_with_a_profile(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet: Fleet,
) -> None:
    new = fleet.announce | {"id": "mh-new", "name": "Bedroom", "cfg": 3}
    async_fire_mqtt_message(hass, "microhome/mh-new/announce", protocol.dump_body(new), retain=True)
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    rows = {n["id"]: n for n in (await call(client, type="microhome/nodes/list"))["nodes"]}
    found = rows["mh-new"]
    assert (found["configured"], found["board"], found["firmware"]) == (
        False,
        "Raspberry Pi Pico W",
        "1.2.3",
    )
    result = await call(
        client,
        type="microhome/nodes/add",
        flow_ids=[found["flow_id"], "gone"],
        profile="room_sensor",
    )
    assert result["results"]["gone"]["result"] == "failed"
    added = result["results"][found["flow_id"]]
    assert added["result"] == "added"
    entry = hass.config_entries.async_get_entry(added["entry_id"])
    assert entry is not None
    assert entry.options["profile"] == "room_sensor"
    assert entry.options["version"] == 4  # above the node's cfg 3
    assert entry.options["name"] == "Bedroom"
    assert [s["id"] for s in entry.options["sensors"]] == ["climate", "pir", "lamp"]
    await hass.async_block_till_done()
    send(hass, "mh-new", "status", "online", retain=True)
    send(
        hass,
        "mh-new",
        "announce",
        new | {"key_id": protocol.key_id(protocol.node_key(fleet.fleet_key, "mh-new"))},
        retain=True,
    )
    await hass.async_block_till_done()
    (config,) = fleet.configs("mh-new")  # sent when the node announced cfg 3
    assert config["version"] == 4


async def test_options_flow_switches_between_profile_and_own_configuration(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    async def profile_step(user_input: dict[str, Any]) -> Any:
        result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "profile"}
        )
        assert result["step_id"] == "profile"
        return await hass.config_entries.options.async_configure(result["flow_id"], user_input)

    result = await profile_step({"profile": "new", "new_profile": "  "})
    assert result["errors"] == {"base": "profile_unsuitable"}
    result = await profile_step({"profile": "new", "new_profile": "Kitchen kind"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["profile"] == "kitchen_kind"
    result = await profile_step({"profile": "own"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "profile" not in loaded_entry.options
    assert len(loaded_entry.options["sensors"]) == len(SENSORS)
    result = await profile_step({"profile": "kitchen_kind"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["profile"] == "kitchen_kind"


async def test_a_follower_edited_on_its_own_leaves_its_profile(
    hass: HomeAssistant, fleet: Fleet
) -> None:
    assert fleet.kitchen.options["profile"] == "room_sensor"
    fleet.mqtt_mock.async_publish.reset_mock()
    result = await hass.config_entries.options.async_init(fleet.kitchen.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "node_settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"telemetry_interval": 120, "log_level": "warning"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "finish"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "profile" not in fleet.kitchen.options
    assert fleet.kitchen.options["telemetry_interval"] == 120
    (config,) = fleet.configs(NODE_ID)
    assert config["telemetry_interval"] == 120
    # The next edit of the profile leaves it alone.
    fleet.mqtt_mock.async_publish.reset_mock()
    manager = hass.data[DATA_PROFILES]
    assert await manager.async_update("room_sensor", {"telemetry_interval": 30}) == []
    assert fleet.configs(NODE_ID) == []


async def test_update_profile_action_answers_per_node(hass: HomeAssistant, fleet: Fleet) -> None:
    await fleet.add_node("night")
    await hass.services.async_call(
        DOMAIN,
        "apply_profile",
        {"device_id": [device_id(hass, "night")], "profile": "room_sensor"},
        blocking=True,
    )
    fleet.mqtt_mock.async_publish.reset_mock()
    response = await hass.services.async_call(
        DOMAIN,
        "update_profile",
        {"profile": "room_sensor", "telemetry_interval": 900, "log_level": "warning"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert {node_id: r["result"] for node_id, r in response["nodes"].items()} == {
        NODE_ID: "pending",
        "night": "pending",
    }
    for node_id in (NODE_ID, "night"):
        (config,) = fleet.configs(node_id)
        assert (config["telemetry_interval"], config["log_level"]) == (900, "W")
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "update_profile",
            {"profile": "room_sensor", "sensors": [{"id": "x", "type": "led", "pin": 99}]},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "invalid_profile"


async def test_profile_edited_in_the_panel_from_one_of_its_nodes(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet: Fleet,
) -> None:
    """Name, interval and log level edited, peripherals taken from a node changed on its own:
    every follower gets them (an override survives), the node follows again; then one node's
    overrides are reset."""
    client = await hass_ws_client(hass)
    rooms = [await fleet.add_node(f"room-{n}") for n in range(2)]
    await call(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[e.entry_id for e in rooms],
        profile="room_sensor",
        overrides={"room-1": {"climate": {"pin": "GP2"}}},
    )
    study = await fleet.add_node("study")
    own = [*PROFILE_SENSORS[:2], {**PROFILE_SENSORS[2], "freq": 2000}, SENSORS[3]]
    hass.config_entries.async_update_entry(
        study, options=make_options(own, version=9) | {"name": "study"}
    )
    await hass.async_block_till_done()
    fleet.mqtt_mock.async_publish.reset_mock()

    result = await call(
        client,
        type="microhome/profiles/update",
        profile="room_sensor",
        name="Room sensor v2",
        telemetry_interval=120,
        log_level="W",
        from_entry_id=study.entry_id,
    )
    assert {node_id: r["result"] for node_id, r in result["results"].items()} == {
        NODE_ID: "pending",
        "room-0": "pending",
        "room-1": "pending",
        "study": "pending",
    }
    for node_id in (NODE_ID, "room-0", "room-1", "study"):
        (config,) = fleet.configs(node_id)
        assert (config["telemetry_interval"], config["log_level"]) == (120, "W")
        assert by_id(config)["lamp"]["freq"] == 2000
        assert by_id(config)["status"]["pin"] == "LED"
        assert by_id(config)["climate"]["pin"] == (2 if node_id == "room-1" else 15)
    assert (study.options["profile"], study.options["overrides"]) == ("room_sensor", {})
    assert study.options["version"] == 10
    (profile,) = (await call(client, type="microhome/profiles/list"))["profiles"]
    assert profile["name"] == "Room sensor v2"
    assert study.entry_id in profile["followers"]

    # room-1's overrides are shown in the Nodes page and reset: it gets the profile's pin.
    rows = {n["id"]: n for n in (await call(client, type="microhome/nodes/list"))["nodes"]}
    assert rows["room-1"]["overrides"] == {"climate": {"pin": 2}}
    assert rows["room-0"]["overrides"] == {}
    fleet.mqtt_mock.async_publish.reset_mock()
    result = await call(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[rooms[1].entry_id],
        profile="room_sensor",
        overrides={"room-1": {}},
    )
    assert result["results"][rooms[1].entry_id]["result"] == "pending"
    (config,) = fleet.configs("room-1")
    assert by_id(config)["climate"]["pin"] == 15
    rows = {n["id"]: n for n in (await call(client, type="microhome/nodes/list"))["nodes"]}
    assert rows["room-1"]["overrides"] == {}
    assert fleet.configs("room-0") == []


async def test_profile_taken_from_a_follower_keeps_what_that_follower_runs(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet: Fleet,
) -> None:
    """The follower's configuration, overrides included, becomes the profile's; its overrides
    are then cleared (the profile holds them), the other followers get them."""
    client = await hass_ws_client(hass)
    desk = await fleet.add_node("desk")
    await call(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[desk.entry_id],
        profile="room_sensor",
        overrides={"desk": {"climate": {"pin": "GP2", "name": "Desk climate"}}},
    )
    fleet.mqtt_mock.async_publish.reset_mock()
    result = await call(
        client, type="microhome/profiles/update", profile="room_sensor", from_entry_id=desk.entry_id
    )
    assert result["results"]["desk"]["result"] == "pending"  # a new version, the same sensors
    assert result["results"][NODE_ID]["result"] == "pending"
    assert desk.options["overrides"] == {}
    for node_id in (NODE_ID, "desk"):
        (config,) = fleet.configs(node_id)
        assert by_id(config)["climate"]["pin"] == 2
    assert by_id(fleet.kitchen.options)["climate"]["name"] == "Desk climate"


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"from_entry_id": "not-an-entry"}, "not_found", "not a loaded MicroHome node"),
        (
            {"from_entry_id": "esp"},
            "invalid_format",
            "esp-1 is an esp32 node; the profile is for rp2 nodes",
        ),
        ({"name": "<b>\x1b[31m"}, "invalid_format", "unprintable"),
        ({"name": "Room\nsensor"}, "invalid_format", "unprintable"),
        ({"name": " " * 3}, "invalid_format", "name: 1-64 characters"),
        ({"name": "x" * 65}, "invalid_format", "name: 1-64 characters"),
        ({"telemetry_interval": True}, "invalid_format", "telemetry_interval"),
        ({"log_level": "<script>\n"}, "invalid_format", "log_level"),
    ],
)
async def test_a_bad_edit_in_the_panel_is_refused_with_its_reason(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    changes: dict[str, Any],
    code: str,
    reason: str,
    fleet: Fleet,
) -> None:
    esp = await fleet.add_node("esp-1", platform="esp32", board="ESP32")
    if changes.get("from_entry_id") == "esp":
        changes = {"from_entry_id": esp.entry_id}
    fleet.mqtt_mock.async_publish.reset_mock()
    before = dict(fleet.kitchen.options)
    client = await hass_ws_client(hass)
    error = await error_of(
        client, type="microhome/profiles/update", profile="room_sensor", **changes
    )
    assert error["code"] == code
    assert reason in error["message"]
    assert dict(fleet.kitchen.options) == before
    assert "profile" not in esp.options
    profiles = (await call(client, type="microhome/profiles/list"))["profiles"]
    assert profiles == [fleet.room | {"followers": [fleet.kitchen.entry_id]}]
    assert fleet.mqtt_mock.async_publish.call_count == 0
