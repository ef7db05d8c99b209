"""Property-based tests through Home Assistant: MQTT handlers and websocket commands.

Seeded hypothesis examples are sent to a loaded node's topics and to every websocket command.
Nothing raises out of a handler, a refused message changes nothing, and every refusal is
logged exactly once (the first per node and topic kind as a warning, the others at debug).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.microhome import protocol
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.logs import DATA_LOGS
from custom_components.microhome.settings import async_get_manager, stored_as_dict
from tests.strategies import examples, json_values, mutations, orjson_values, payloads

from .conftest import NODE_ID, PREFIX

EXAMPLES = 60
NODE_LOGGER = "custom_components.microhome.node"
NOT_RETAINED = ("telemetry", "reply")
WEBSOCKET_LOGGER = "homeassistant.components.websocket_api.http.connection"


def topics(vectors: dict[str, Any]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Topic suffix -> (parser that decides, valid payload to mutate)."""
    valid = vectors["node_payloads"]
    state = valid["state"]
    return {
        "announce": (lambda p: protocol.parse_announce(p, NODE_ID), valid["announce"]),
        "telemetry": (protocol.parse_telemetry, valid["telemetry"] | {"ip": "10.0.0.1"}),
        "config/state": (protocol.parse_config_state, valid["config_state"]),
        "ota/status": (protocol.parse_ota_status, valid["ota_status"]),
        "reply": (protocol.parse_reply, valid["reply"]),
        "state/climate": (lambda p: protocol.parse_state("dht22", p), state["dht22"]),
        "state/pir": (lambda p: protocol.parse_state("motion", p), state["motion"]),
        "state/lamp": (lambda p: protocol.parse_state("led", p), state["led"]),
        "state/status": (lambda p: protocol.parse_state("status_led", p), state["status_led"]),
    }


def snapshot(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    """What a refused message must not change: the node's data, its entry, its entities."""
    node = entry.runtime_data
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    return (
        node.announce,
        node.telemetry,
        dict(node.states),
        node.config_state,
        node.ota_status,
        dict(entry.data),
        {e.entity_id: getattr(hass.states.get(e.entity_id), "state", None) for e in entities},
    )


def drops(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def assert_no_errors(caplog: pytest.LogCaptureFixture, refused_by_schema: int = 0) -> None:
    """No traceback and no error but the node's own lines and HA's schema refusals."""
    refusals = [
        r
        for r in caplog.records
        if r.name == WEBSOCKET_LOGGER and "(invalid_format)" in r.getMessage()
    ]
    assert len(refusals) <= refused_by_schema  # settings/set answers its own refusals
    errors = [
        r
        for r in caplog.records
        if r.exc_info
        or (r.levelno >= logging.ERROR and not r.name.startswith(NODE_LOGGER) and r not in refusals)
    ]
    assert not errors, [r.getMessage() for r in errors]


async def test_node_topics(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    vectors: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.microhome")
    warned: set[str] = set()
    for suffix, (parser, valid) in topics(vectors).items():
        caplog.clear()
        refused = 0
        for payload in examples(payloads(valid), EXAMPLES):
            before = snapshot(hass, loaded_entry)
            try:
                parser(payload)
            except protocol.ProtocolError:
                # An empty payload clears a retained topic: ignored without a word.
                refused += bool(payload) or suffix in NOT_RETAINED
                accepted = False
            else:
                accepted = True
            async_fire_mqtt_message(hass, f"{PREFIX}/{suffix}", payload)
            await hass.async_block_till_done()
            if not accepted:
                assert snapshot(hass, loaded_entry) == before, (suffix, payload)
        assert_no_errors(caplog)
        logged = drops(caplog, f"Dropped a payload from node {NODE_ID} on '{PREFIX}/{suffix}'")
        assert len(logged) == refused, suffix
        kind = suffix.split("/")[0]  # one handler for every state/<sensor_id>
        warnings = [r.levelno for r in logged].count(logging.WARNING)
        assert warnings == (0 if kind in warned else 1), suffix
        warned.add(kind)
        assert refused, f"no refused example for {suffix}"


async def test_log_topic(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    vectors: dict[str, Any],
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.microhome")
    manager = hass.data[DATA_LOGS]
    refused = 0
    for payload in examples(payloads(vectors["node_payloads"]["log"]), 2 * EXAMPLES):
        node = manager.nodes.get(NODE_ID)
        before = None if node is None else (list(node.entries), node.boot, node.next_seq)
        try:
            protocol.parse_log(payload)
        except protocol.ProtocolError:
            refused += 1
            accepted = False
        else:
            accepted = True
        async_fire_mqtt_message(hass, f"{PREFIX}/log", payload)
        await hass.async_block_till_done()
        node = manager.nodes.get(NODE_ID)
        if not accepted:
            assert before == (
                None if node is None else (list(node.entries), node.boot, node.next_seq)
            )
    assert_no_errors(caplog)
    logged = drops(caplog, f"Dropped malformed log payload from {NODE_ID}")
    assert len(logged) == refused
    assert [r.levelno for r in logged].count(logging.WARNING) == 1
    # Whatever was accepted is shown as printable text and can be saved.
    for record in manager.nodes[NODE_ID].entries:
        assert record[7].isprintable()
        assert record[8].isprintable()
    await manager._store(NODE_ID)._async_handle_write_data()
    assert hass_storage[f"microhome.logs.{NODE_ID}"]["data"]["entries"]


def ws_messages() -> st.SearchStrategy[dict[str, Any]]:
    """Messages for every MicroHome websocket command, with fuzzed fields."""
    fields = {
        "microhome/logs/list": ["nodes", "min_level", "text", "since", "until", "before", "limit"],
        "microhome/logs/subscribe": ["nodes", "min_level", "text", "replay"],
        "microhome/logs/clear": ["node"],
        "microhome/nodes/list": [],
        "microhome/settings/get": [],
        "microhome/settings/set": ["ftp_port", "ftp_passive_ports", "ha_address", "log_history"],
        "microhome/fleet_key/get": [],
    }
    values = st.one_of(
        json_values,
        st.integers(-5, 70000),
        st.lists(st.sampled_from([NODE_ID, "x", "", "mh-zz"]), max_size=3),
        st.sampled_from(["D", "I", "W", "E", "C", "X", NODE_ID, "1.2.3.4", "host.local"]),
    )
    return st.sampled_from(sorted(fields)).flatmap(
        lambda kind: st.fixed_dictionaries(
            {"type": st.just(kind)},
            optional={name: orjson_values(values) for name in fields[kind] + ["junk"]},
        )
    )


async def test_websocket_commands(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    hass_ws_client: WebSocketGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await hass_ws_client(hass)
    settings = await async_get_manager(hass)
    schema_refusals = 0
    for number, message in enumerate(examples(ws_messages(), 4 * EXAMPLES), start=1):
        before = stored_as_dict(settings.stored)
        await client.send_json({"id": number, **message})
        while (response := await client.receive_json())["id"] != number or (
            response["type"] != "result"
        ):
            pass  # events of an earlier subscription
        if not response["success"]:
            assert response["error"]["code"] != "unknown_error", (message, response)
            schema_refusals += response["error"]["code"] == "invalid_format"
            assert stored_as_dict(settings.stored) == before, message
    # Home Assistant logs a message its schema refuses, once, itself, at error level; the
    # settings command answers values it refuses with the reason, without a log line.
    assert_no_errors(caplog, refused_by_schema=schema_refusals)
    assert hass.config_entries.async_entries(DOMAIN) == [loaded_entry]
    assert dataclasses.is_dataclass(settings.stored)


def flow_inputs(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Form input a client can send (what HA's JSON parser accepts): valid, mutated, any."""
    values = st.one_of(
        json_values,
        st.integers(-5, 100000),
        st.floats(-1e6, 1e6),
        st.sampled_from(["14", "GP15", "gpio17", "LED", "led", "99", "Lamp", "D", "Q", " "]),
    )
    return orjson_values(
        st.one_of(
            st.just(valid),
            mutations(valid),
            st.fixed_dictionaries({}, optional=dict.fromkeys(valid, values)),
        )
    )


async def test_options_flow_validators(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """Fuzzed forms: each is refused with its reason (options unchanged) or saved valid."""
    flows = hass.config_entries.options
    steps: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
        (
            [{"next_step_id": "add_peripheral"}, {"type": "led"}],
            {"name": "Desk", "pin": "17", "freq": 1000},
        ),
        (
            [{"next_step_id": "add_peripheral"}, {"type": "dht22"}],
            {"name": "Attic", "pin": "GP18", "interval": 60},
        ),
        ([{"next_step_id": "node_settings"}], {"telemetry_interval": 30, "log_level": "warning"}),
    ]
    saved = 0
    for path, valid in steps:
        for user_input in examples(flow_inputs(valid), EXAMPLES):
            before = dict(loaded_entry.options)
            result = await flows.async_init(loaded_entry.entry_id)
            for step in path:
                result = await flows.async_configure(result["flow_id"], step)
            try:
                result = await flows.async_configure(result["flow_id"], user_input)
                if result["type"] is FlowResultType.MENU:  # accepted: the menu stays open
                    finish = {"next_step_id": "finish"}
                    result = await flows.async_configure(result["flow_id"], finish)
            except InvalidData:
                result = None  # refused by the form's schema, with its reason
            await hass.async_block_till_done()
            if result is None or result["type"] is not FlowResultType.CREATE_ENTRY:
                assert dict(loaded_entry.options) == before, user_input
                if result is not None:
                    assert result["errors"], user_input
                    flows.async_abort(result["flow_id"])
                continue
            body = protocol.config_body(dict(loaded_entry.options), 1)
            assert protocol.validate_config(body, "rp2") == [], user_input
            saved += 1
    assert saved, "no fuzzed form was valid"
    assert_no_errors(caplog)
