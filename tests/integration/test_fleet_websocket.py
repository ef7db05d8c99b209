"""The Nodes page's bulk actions over the websocket API: firmware updates with progress events,
reboot and identify on many nodes, and what they answer for nodes that cannot do it."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from .test_ota_service import Updating, fleet, updating  # noqa: F401
from .test_update import Nodes, firmware, ftp_settings, nodes, send  # noqa: F401
from .test_websocket import call

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def error_of(client: Any, **message: Any) -> dict[str, Any]:
    await client.send_json_auto_id(message)
    response = await client.receive_json()
    assert response["success"] is False, response
    return dict(response["error"])


async def test_firmware_update_reports_progress_then_each_result(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet: list[MockConfigEntry],  # noqa: F811
    updating: Updating,  # noqa: F811
) -> None:
    updating.outcome["node-1"] = ("failed", "flash full")
    send(hass, "node-2", "status", "offline")
    await hass.async_block_till_done()
    chosen = fleet[:3]
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "microhome/nodes/ota",
            "entry_ids": [entry.entry_id for entry in chosen] + ["not-an-entry"],
            "concurrency": 2,
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    assert response["result"] == {"version": "1.4.0"}
    progress: dict[str, list[int | None]] = {}
    results: dict[str, dict[str, Any]] = {}
    while True:
        event = (await client.receive_json())["event"]
        if event.get("done"):
            break
        if "result" in event:
            results[event["entry_id"]] = event["result"]
        else:
            progress.setdefault(event["entry_id"], []).append(event["progress"])
    node_0, node_1, node_2 = (entry.entry_id for entry in chosen)
    assert results[node_0]["result"] == "done"
    assert (results[node_1]["result"], results[node_1]["error"]) == ("failed", "flash full")
    assert results[node_2]["result"] == "failed"
    assert "offline" in results[node_2]["error"]
    assert results["not-an-entry"]["result"] == "failed"
    assert 50 in progress[node_0]  # the node's own progress, as it reported it
    assert node_2 not in progress  # nothing started on the offline node


async def test_an_unknown_firmware_version_is_refused(
    *,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    fleet: list[MockConfigEntry],  # noqa: F811
) -> None:
    client = await hass_ws_client(hass)
    error = await error_of(
        client, type="microhome/nodes/ota", entry_ids=[fleet[0].entry_id], version="<9>"
    )
    assert "1.4.0" in error["message"]  # the versions there are


async def test_reboot_and_identify_many_nodes(
    *,
    hass: HomeAssistant,
    nodes: Nodes,  # noqa: F811
    fleet: list[MockConfigEntry],  # noqa: F811
    hass_ws_client: WebSocketGenerator,
) -> None:
    client = await hass_ws_client(hass)
    entry_ids = [entry.entry_id for entry in fleet]
    result = await call(
        client, type="microhome/nodes/command", entry_ids=entry_ids, command="reboot"
    )
    assert {r["result"] for r in result["results"].values()} == {"done"}
    assert sorted(node_id for node_id, body in nodes.all if body["cmd"] == "reboot") == sorted(
        entry.unique_id for entry in fleet
    )

    send(hass, "node-3", "status", "offline")
    nodes.reply = {"ok": False, "error": "busy <b>"}
    await hass.async_block_till_done()
    result = await call(
        client, type="microhome/nodes/command", entry_ids=entry_ids[2:4], command="identify"
    )
    refused, offline = (result["results"][entry_id] for entry_id in entry_ids[2:4])
    assert refused["result"] == "failed" and "busy <b>" in refused["error"]
    assert offline["result"] == "failed" and "offline" in offline["error"]
    (identify,) = [body for node_id, body in nodes.all if body["cmd"] == "identify"]
    assert identify["seconds"] > 0

    error = await error_of(
        client, type="microhome/nodes/command", entry_ids=entry_ids, command="erase"
    )
    assert error["code"] == "invalid_format"


async def test_profile_commands_refuse_what_does_not_exist(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, loaded_entry: MockConfigEntry
) -> None:
    client = await hass_ws_client(hass)
    error = await error_of(
        client, type="microhome/profiles/create", name="Room", entry_id="not-an-entry"
    )
    assert error["code"] == "not_found"
    assert (await error_of(client, type="microhome/profiles/delete", profile="nope"))[
        "code"
    ] == "not_found"
    assert (await error_of(client, type="microhome/profiles/update", profile="nope"))[
        "code"
    ] == "invalid_format"
    error = await error_of(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[loaded_entry.entry_id],
        profile="nope",
    )
    assert error["code"] == "invalid_format"
    created = await call(
        client, type="microhome/profiles/create", name="Room", entry_id=loaded_entry.entry_id
    )
    error = await error_of(
        client,
        type="microhome/nodes/apply_profile",
        entry_ids=[loaded_entry.entry_id],
        profile=created["profile"]["id"],
        overrides={"mh-a1b2c3": "all pins"},
    )
    assert "overrides" in error["message"]
    result = await call(client, type="microhome/nodes/add", flow_ids=["no-such-flow"])
    assert result["results"]["no-such-flow"]["result"] == "failed"
