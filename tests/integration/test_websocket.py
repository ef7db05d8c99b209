"""The panel's websocket API: logs list/subscribe/clear, nodes, settings, fleet key."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.microhome.logs import DATA_LOGS
from custom_components.microhome.settings import StoredSettings, async_get_manager

from .conftest import NODE_ID, Fire
from .test_logs import OTHER, entry, microhome, send_log  # noqa: F401

pytestmark = pytest.mark.usefixtures("microhome")


async def fill(hass: HomeAssistant) -> None:
    """Two nodes with lines of every level."""
    await send_log(
        hass,
        NODE_ID,
        1,
        [
            entry(0, "booting", "I", "home"),
            entry(1, "connected to Wi-Fi", "I", "wifi"),
            entry(2, "sensor Timeout", "E", "dht22"),
            entry(3, "raw bytes", "D", "dht22"),
            entry(4, "broker lost", "W", "mqtt"),
        ],
    )
    await send_log(
        hass, OTHER, 9, [entry(0, "hello", "I", "home"), entry(1, "timeout again", "C", "ota")]
    )


async def call(client: Any, **message: Any) -> dict[str, Any]:
    await client.send_json_auto_id(message)
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["node"], e["level"], e["message"]) for e in entries]


async def test_list_is_newest_first_with_markers(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await fill(hass)
    client = await hass_ws_client(hass)
    result = await call(client, type="microhome/logs/list")
    assert summary(result["entries"]) == [
        (OTHER, "C", "timeout again"),
        (OTHER, "I", "hello"),
        (OTHER, "I", "boot 9"),
        (NODE_ID, "W", "broker lost"),
        (NODE_ID, "D", "raw bytes"),
        (NODE_ID, "E", "sensor Timeout"),
        (NODE_ID, "I", "connected to Wi-Fi"),
        (NODE_ID, "I", "booting"),
        (NODE_ID, "I", "boot 1"),
    ]
    assert result["more"] is False
    first = result["entries"][0]
    assert set(first) == {
        "id",
        "time",
        "node",
        "boot",
        "seq",
        "t",
        "level",
        "source",
        "message",
        "kind",
        "level_name",
    }
    assert (first["source"], first["seq"], first["boot"], first["kind"]) == ("ota", 1, 9, "log")
    assert (
        first["level_name"]
        == {"D": "debug", "I": "info", "W": "warning", "E": "error", "C": "critical"}[
            first["level"]
        ]
    )


async def test_list_filters(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> None:
    await fill(hass)
    client = await hass_ws_client(hass)

    by_node = await call(client, type="microhome/logs/list", nodes=[OTHER])
    assert {e["node"] for e in by_node["entries"]} == {OTHER}

    warnings = await call(client, type="microhome/logs/list", min_level="W")
    assert summary(warnings["entries"]) == [
        (OTHER, "C", "timeout again"),
        (NODE_ID, "W", "broker lost"),
        (NODE_ID, "E", "sensor Timeout"),
    ]

    text = await call(client, type="microhome/logs/list", text="TIMEOUT")
    assert [e["message"] for e in text["entries"]] == ["timeout again", "sensor Timeout"]
    by_source = await call(client, type="microhome/logs/list", text="wifi")
    assert [e["message"] for e in by_source["entries"]] == ["connected to Wi-Fi"]

    combined = await call(
        client, type="microhome/logs/list", nodes=[NODE_ID], min_level="E", text="sensor"
    )
    assert summary(combined["entries"]) == [(NODE_ID, "E", "sensor Timeout")]

    unknown = await call(client, type="microhome/logs/list", nodes=["mh-nobody"])
    assert unknown["entries"] == []


async def test_list_time_range(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, freezer: Any
) -> None:
    await send_log(hass, NODE_ID, 1, [entry(0, "early", t=1000)])
    middle = dt_util.utcnow().timestamp() + 30
    freezer.tick(60)
    await send_log(hass, NODE_ID, 1, [entry(1, "late", t=61_000)])
    client = await hass_ws_client(hass)

    late = await call(client, type="microhome/logs/list", since=middle)
    assert [e["message"] for e in late["entries"]] == ["late"]
    early = await call(client, type="microhome/logs/list", until=middle)
    assert [e["message"] for e in early["entries"]] == ["early", "boot 1"]


async def test_list_pages(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> None:
    await send_log(hass, NODE_ID, 1, [entry(i, f"line {i}") for i in range(25)])
    client = await hass_ws_client(hass)
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        query: dict[str, Any] = {"type": "microhome/logs/list", "limit": 10, "text": "line"}
        if before is not None:
            query["before"] = before
        result = await call(client, **query)
        pages += 1
        seen += [e["message"] for e in result["entries"]]
        if not result["more"]:
            assert result["next_before"] is None
            break
        before = result["next_before"]
    assert pages == 3
    assert seen == [f"line {i}" for i in reversed(range(25))]


@pytest.mark.parametrize(
    "bad",
    [{"limit": 0}, {"limit": 5001}, {"min_level": "X"}, {"nodes": "mh-a1b2c3"}, {"before": 0}],
)
async def test_list_refuses_bad_queries(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, bad: dict[str, Any]
) -> None:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "microhome/logs/list", **bad})
    response = await client.receive_json()
    assert response["success"] is False
    assert response["error"]["code"] == "invalid_format"


async def test_subscribe_replays_then_streams(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await fill(hass)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "microhome/logs/subscribe", "replay": 3, "min_level": "I", "nodes": [NODE_ID]}
    )
    response = await client.receive_json()
    assert response["success"]
    subscription = response["id"]

    replay = await client.receive_json()
    assert replay["id"] == subscription and replay["type"] == "event"
    assert replay["event"]["replay"] is True
    # The latest 3 matching lines, oldest first.
    assert [e["message"] for e in replay["event"]["entries"]] == [
        "connected to Wi-Fi",
        "sensor Timeout",
        "broker lost",
    ]

    await send_log(hass, OTHER, 9, [entry(2, "not this node")])
    await send_log(
        hass, NODE_ID, 1, [entry(5, "too quiet", "D"), entry(6, "new line"), entry(7, "newer")]
    )
    live = await client.receive_json()
    assert live["id"] == subscription
    assert "replay" not in live["event"]
    assert [e["message"] for e in live["event"]["entries"]] == ["new line", "newer"]

    await client.send_json_auto_id({"type": "unsubscribe_events", "subscription": subscription})
    response = await client.receive_json()
    assert response["success"]
    await send_log(hass, NODE_ID, 1, [entry(8, "after unsubscribe")])
    await client.send_json_auto_id({"type": "ping"})
    assert (await client.receive_json())["type"] == "pong"  # nothing came in between
    assert hass.data[DATA_LOGS]._streams == []


async def test_subscribe_without_replay_and_clear_event(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    await fill(hass)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "microhome/logs/subscribe", "replay": 0})
    assert (await client.receive_json())["success"]
    await client.send_json_auto_id({"type": "microhome/logs/clear", "node": OTHER})
    messages = [await client.receive_json(), await client.receive_json()]
    assert [m["event"] for m in messages if m["type"] == "event"] == [{"cleared": OTHER}]
    assert [m["success"] for m in messages if m["type"] == "result"] == [True]


async def test_clear_one_node_then_all(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    logs = hass.data[DATA_LOGS]
    await fill(hass)
    await send_log(hass, OTHER, 9, [entry(5, "after a gap")])
    assert logs.nodes[OTHER].lost == 3
    client = await hass_ws_client(hass)

    await call(client, type="microhome/logs/clear", node=OTHER)
    result = await call(client, type="microhome/logs/list")
    assert {e["node"] for e in result["entries"]} == {NODE_ID}
    assert logs.nodes[OTHER].lost == 0

    await send_log(hass, OTHER, 9, [entry(6, "still logging")])
    assert [
        e["message"]
        for e in (await call(client, type="microhome/logs/list", nodes=[OTHER]))["entries"]
    ] == ["still logging"]

    await call(client, type="microhome/logs/clear")
    assert (await call(client, type="microhome/logs/list"))["entries"] == []


async def test_nodes_list_merges_entries_and_log_only_nodes(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    await send_log(hass, NODE_ID, 12, [entry(0, "a"), entry(4, "b")])
    await send_log(hass, OTHER, 1, [entry(0, "c")])
    client = await hass_ws_client(hass)
    nodes = (await call(client, type="microhome/nodes/list"))["nodes"]
    assert [n["id"] for n in nodes] == [NODE_ID, OTHER]
    configured, log_only = nodes
    assert configured["name"] == "Kitchen"
    assert configured["online"] is True
    assert configured["firmware"] == "1.2.3"
    assert configured["configured"] is True
    assert configured["entry_id"] == loaded_entry.entry_id
    assert configured["lost"] == 3
    assert configured["entries"] == 4  # boot marker, gap marker, two lines
    assert configured["boot"] == 12
    assert (configured["board"], configured["platform"]) == ("Raspberry Pi Pico W", "rp2")
    assert (configured["config_state"], configured["profile"]) == ("pending", None)
    assert configured["last_seen"] == pytest.approx(dt_util.utcnow().timestamp(), abs=5)
    # Known only from its logs: no entry, no discovery, nothing but what the logs say.
    assert log_only["last_seen"] == pytest.approx(dt_util.utcnow().timestamp(), abs=5)
    assert (log_only["name"], log_only["configured"], log_only["lost"]) == (OTHER, False, 0)
    assert (log_only["entries"], log_only["boot"]) == (2, 1)
    unknown = ("online", "firmware", "entry_id", "flow_id", "board", "platform", "profile")
    assert [log_only[key] for key in unknown] == [None] * len(unknown)
    assert log_only["config_state"] is None


async def test_nodes_list_offline_node_without_logs(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    loaded_entry: MockConfigEntry,
    fire: Fire,
) -> None:
    fire("status", "offline")
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    (node,) = (await call(client, type="microhome/nodes/list"))["nodes"]
    assert (node["id"], node["online"], node["lost"], node["entries"]) == (
        NODE_ID,
        False,
        0,
        0,
    )


async def test_fleet_key_and_flash_command(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet_key: bytes,
    mqtt_mock: MqttMockHAClient,
) -> None:
    client = await hass_ws_client(hass)
    result = await call(client, type="microhome/fleet_key/get")
    assert result["fleet_key"] == fleet_key.hex()
    command = result["command"]
    assert command.startswith("microhome flash --port /dev/ttyACM0 --wifi-ssid ")
    assert command.endswith(f" --fleet-key {fleet_key.hex()}")
    assert f" --broker {result['broker']} " in command
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    assert result["broker"].split(":")[0] == mqtt_entry.data["broker"]


async def test_flash_command_replaces_a_loopback_broker(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    mqtt_mock: MqttMockHAClient,
) -> None:
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    hass.config_entries.async_update_entry(
        mqtt_entry,
        data={
            **mqtt_entry.data,
            "broker": "127.0.0.1",
            "port": 1884,
            "username": "homeassistant",
            "password": "ha-secret",
        },
    )
    client = await hass_ws_client(hass)
    await call(client, type="microhome/settings/set", ha_address="192.168.1.5")
    result = await call(client, type="microhome/fleet_key/get")
    assert result["broker"] == "192.168.1.5:1884"
    # Nodes log in with a login of their own, never with Home Assistant's.
    assert (
        " --broker 192.168.1.5:1884 --mqtt-user NODE_MQTT_USER --mqtt-password NODE_MQTT_PASSWORD "
        in result["command"]
    )
    assert "homeassistant" not in result["command"]
    assert "ha-secret" not in result["command"]


COMMANDS: list[dict[str, Any]] = [
    {"type": "microhome/logs/list"},
    {"type": "microhome/logs/subscribe"},
    {"type": "microhome/logs/clear"},
    {"type": "microhome/nodes/list"},
    {"type": "microhome/nodes/add", "flow_ids": ["x"]},
    {"type": "microhome/nodes/apply_profile", "entry_ids": ["x"], "profile": "x"},
    {"type": "microhome/nodes/command", "entry_ids": ["x"], "command": "reboot"},
    {"type": "microhome/nodes/ota", "entry_ids": ["x"]},
    {"type": "microhome/profiles/list"},
    {"type": "microhome/profiles/create", "name": "x", "entry_id": "x"},
    {"type": "microhome/profiles/update", "profile": "x"},
    {"type": "microhome/profiles/update", "profile": "x", "from_entry_id": "x"},
    {"type": "microhome/profiles/delete", "profile": "x"},
    {"type": "microhome/settings/get"},
    {"type": "microhome/settings/set", "log_history": 200},
    {"type": "microhome/fleet_key/get"},
]


@pytest.mark.parametrize("message", COMMANDS, ids=lambda m: m["type"])
async def test_commands_are_admin_only(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
    message: dict[str, Any],
) -> None:
    await fill(hass)
    hass_admin_user.groups = []
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(message)
    response = await client.receive_json()
    assert response["success"] is False
    assert response["error"]["code"] == "unauthorized"
    # Nothing was changed or leaked.
    assert "result" not in response or response["result"] is None
    assert len(hass.data[DATA_LOGS].nodes[NODE_ID].entries) == 6
    assert (await async_get_manager(hass)).stored == StoredSettings()
