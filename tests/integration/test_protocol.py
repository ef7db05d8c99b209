"""protocol.py against the shared test vectors (docs/protocol.md)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from custom_components.microhome import protocol
from custom_components.microhome.protocol import ProtocolError

FIELD_PATH = re.compile(
    r"^(n|version|name|telemetry_interval|log_level|sensors)(\[\d+\](\.[a-z0-9_]+)*)?: "
)
PARSERS = {
    "announce": protocol.parse_announce,
    "telemetry": protocol.parse_telemetry,
    "log": protocol.parse_log,
    "config_state": protocol.parse_config_state,
    "ota_status": protocol.parse_ota_status,
    "reply": protocol.parse_reply,
    "state_dht22": lambda p: protocol.parse_state("dht22", p),
    "state_motion": lambda p: protocol.parse_state("motion", p),
    "state_led": lambda p: protocol.parse_state("led", p),
}


def test_keys(vectors: dict[str, Any]) -> None:
    keys = vectors["keys"]
    node_key = protocol.node_key(bytes.fromhex(keys["fleet_key"]), keys["node_id"])
    assert node_key.hex() == keys["node_key"]
    assert protocol.key_id(node_key) == keys["key_id"]


def test_signatures_match_vectors(vectors: dict[str, Any]) -> None:
    key = bytes.fromhex(vectors["keys"]["node_key"])
    for signed in vectors["signed"]:
        assert protocol.sign(key, signed["topic"], signed["body"]) == signed["signature"]
        # Building the body from a dict gives the very bytes of the vector.
        body = json.loads(signed["body"])
        assert protocol.signed_payload(key, signed["topic"], body) == signed["payload"]
        assert protocol.verify(key, signed["topic"], signed["payload"]) == body


def test_command_body_builds_vector(vectors: dict[str, Any]) -> None:
    key = bytes.fromhex(vectors["keys"]["node_key"])
    body = protocol.command_body(
        1763800000001, "set", id="lamp", on=True, brightness=128, transition=0.5
    )
    assert (
        protocol.signed_payload(key, vectors["topics"]["cmd"], body)
        == (vectors["signed"][1]["payload"])
    )


@pytest.mark.parametrize("index", range(10))
def test_rejected_vectors(vectors: dict[str, Any], index: int) -> None:
    """Every vector the node rejects at `signature` or `n` is rejected by verify too."""
    key = bytes.fromhex(vectors["keys"]["node_key"])
    case = vectors["rejected"][index]
    assert case["stage"] in ("signature", "n")
    with pytest.raises(ProtocolError, match=f"^{case['stage']}:"):
        protocol.verify(key, case["topic"], case["payload"])


def test_ids(vectors: dict[str, Any]) -> None:
    assert all(protocol.is_node_id(i) for i in vectors["node_ids"]["valid"])
    assert not any(protocol.is_node_id(i) for i in vectors["node_ids"]["invalid"])
    assert all(protocol.is_sensor_id(i) for i in vectors["sensor_ids"]["valid"])
    assert not any(protocol.is_sensor_id(i) for i in vectors["sensor_ids"]["invalid"])


def test_topics(vectors: dict[str, Any]) -> None:
    topics = vectors["topics"]
    node_id = vectors["keys"]["node_id"]
    for name, suffix in (("config_set", "config/set"), ("cmd", "cmd"), ("reply", "reply")):
        assert protocol.topic(node_id, suffix) == topics[name]
    assert protocol.state_topic(node_id, "lamp") == topics["state"]
    assert topics["discover"] == protocol.DISCOVER_TOPIC
    assert protocol.node_id_from_topic(topics["announce"]) == node_id
    for bad in ("other/mh-a1b2c3/announce", "microhome/Bad Id/announce", "microhome"):
        with pytest.raises(ProtocolError):
            protocol.node_id_from_topic(bad)


def test_valid_configs(vectors: dict[str, Any]) -> None:
    for case in vectors["configs"]["valid"]:
        assert protocol.validate_config(case["config"], case["platform"]) == []


def test_invalid_configs(vectors: dict[str, Any]) -> None:
    for case in vectors["configs"]["invalid"]:
        errors = protocol.validate_config(case["config"], case["platform"])
        assert errors, case["why"]
        if "errors" in case:  # the catalogue's vectors: the very errors the firmware gives
            assert errors == case["errors"], case["why"]
        # Every error starts with the field's path.
        for error in errors:
            assert FIELD_PATH.match(error), error


def test_config_errors_name_the_field() -> None:
    config = {
        "n": 1,
        "version": -1,
        "name": "x" * 33,
        "telemetry_interval": 4,
        "log_level": "I",
        "sensors": [{"id": "a", "type": "dht22", "pin": 15}, 5]
        + [{"id": f"m{i}", "type": "motion", "pin": i} for i in range(16)],
    }
    errors = protocol.validate_config(config, "rp2")
    assert "version: -1 is not in 0-9223372036854775808" in errors
    assert "name: longer than 32 characters" in errors
    assert "telemetry_interval: 4 is not in 5-86400" in errors
    assert "sensors: more than 16" in errors
    assert "sensors[1]: expected an object" in errors
    assert "sensors[17].pin: 15 used twice" in errors
    assert protocol.validate_config([], "rp2") == ["config: expected an object"]


def test_example_payloads(vectors: dict[str, Any]) -> None:
    payloads = vectors["node_payloads"]
    announce = protocol.parse_announce(json.dumps(payloads["announce"]), "mh-a1b2c3")
    assert announce.as_dict() == payloads["announce"]
    telemetry = protocol.parse_telemetry(json.dumps(payloads["telemetry"]))
    assert (telemetry.uptime, telemetry.rssi, telemetry.reset_cause) == (3600, -61, "power_on")
    batch = protocol.parse_log(json.dumps(payloads["log"]).encode())
    assert batch.boot == 12
    assert [(e.seq, e.lvl, e.src, e.msg) for e in batch.entries] == [
        (0, "I", "home", "boot 12"),
        (1, "W", "wifi", "retrying"),
    ]
    state = protocol.parse_config_state(json.dumps(payloads["config_state"]))
    assert state == protocol.ConfigState(7, False, ("sensors[1].pin: 15 used twice",))
    ota = protocol.parse_ota_status(json.dumps(payloads["ota_status"]))
    assert (ota.state, ota.progress, ota.error) == ("downloading", 40, None)
    assert protocol.parse_reply(json.dumps(payloads["reply"])) == protocol.Reply(
        1763800000001, True, None
    )
    states = payloads["state"]
    State = protocol.PeripheralState
    assert protocol.parse_state("dht22", json.dumps(states["dht22"])) == State(
        {"temperature": 21.5, "humidity": 40.2}
    )
    assert protocol.parse_state("dht22", json.dumps(states["dht22_error"])).error == "timeout"
    assert protocol.parse_state("motion", json.dumps(states["motion"])) == State({"motion": True})
    assert protocol.parse_state("led", json.dumps(states["led"])) == State(
        {"on": True, "brightness": 128}
    )
    assert protocol.parse_state("status_led", json.dumps(states["status_led"])) == (
        State({"on": False})
    )


def test_malformed_payloads(vectors: dict[str, Any]) -> None:
    for kind, payloads in vectors["malformed_node_payloads"].items():
        for payload in payloads:
            with pytest.raises(ProtocolError):
                PARSERS[kind](payload)


@pytest.mark.parametrize(
    ("parser", "payload", "message"),
    [
        (protocol.parse_log, b"\xff\xfe", "payload is not UTF-8"),
        (protocol.parse_log, '{"boot": 1, "entries": [5]}', "entries[0]: expected an object"),
        (
            protocol.parse_telemetry,
            '{"uptime": 1, "rssi": null, "mem_free": 1, '
            '"mem_alloc": 1, "reset_cause": "x", "cfg": "7"}',
            "cfg: expected int",
        ),
        (protocol.parse_announce, '{"id": "other", "platform": "rp2"}', "does not match"),
        (
            protocol.parse_config_state,
            '{"version": 1, "ok": false, "errors": [1]}',
            "errors: expected a list of strings",
        ),
        (lambda p: protocol.parse_state("bme680", p), "{}", "unknown peripheral type"),
        (
            lambda p: protocol.parse_state("dht22", p),
            '{"temperature": 20, "humidity": 101}',
            "humidity: 101 is not in 0-100",
        ),
    ],
)
def test_error_messages(parser: Any, payload: Any, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parser(payload) if parser is not protocol.parse_announce else parser(payload, "mh-1")


def test_announce_field_checks(vectors: dict[str, Any]) -> None:
    announce = dict(vectors["node_payloads"]["announce"])
    for field, value, message in (
        ("caps", [1], "caps: expected a list of strings"),
        ("cfg", -1, "cfg: -1 is not in 0-"),
        ("fw", None, "fw: expected str"),
        ("safe_mode", 3, "safe_mode: expected str or null, got 3"),
    ):
        with pytest.raises(ProtocolError, match=message):
            protocol.parse_announce(json.dumps(announce | {field: value}))


def test_announce_safe_mode_is_optional(vectors: dict[str, Any]) -> None:
    announce = dict(vectors["node_payloads"]["announce"])
    assert protocol.parse_announce(json.dumps(announce)).safe_mode is None
    assert protocol.parse_announce(json.dumps(announce | {"safe_mode": None})).safe_mode is None
    parsed = protocol.parse_announce(json.dumps(announce | {"safe_mode": "3 boots crashed"}))
    assert parsed.safe_mode == "3 boots crashed"
    assert parsed.as_dict() == announce | {"safe_mode": "3 boots crashed"}


def test_oversized_payload(vectors: dict[str, Any]) -> None:
    limit = vectors["max_payload_bytes"]
    entry = {"seq": 0, "t": 1, "lvl": "I", "src": "x", "msg": ""}
    small = json.dumps({"boot": 1, "entries": [entry]})
    padding = limit - len(small)
    fits = json.dumps({"boot": 1, "entries": [entry | {"msg": "m" * padding}]})
    assert len(fits) == limit
    assert protocol.parse_log(fits).entries[0].msg == "m" * padding
    with pytest.raises(ProtocolError, match="more than 16384"):
        protocol.parse_log(fits.replace('"m', '"mm', 1))
    with pytest.raises(ProtocolError, match="more than 16384"):
        protocol.check_size("é" * (limit // 2 + 1))


def test_status() -> None:
    assert protocol.parse_status(b"online") is True
    assert protocol.parse_status("offline") is False
    assert protocol.parse_status("") is False
    with pytest.raises(ProtocolError, match="expected online or offline"):
        protocol.parse_status("maybe")


def test_pins() -> None:
    assert protocol.valid_pins("rp2", "led")[-4:] == [26, 27, 28, "LED"]
    assert 34 in protocol.valid_pins("esp32", "motion")
    assert 34 not in protocol.valid_pins("esp32", "led")
    assert "LED" in protocol.valid_pins("unix", "status_led")
    assert protocol.pin_error("esp32", "led", 35) == "35 is input-only, a led needs an output"
    assert protocol.pin_error("esp32", "led", 7) == "7 is not a usable pin on esp32"
    assert protocol.pin_error("rp2", "led", True) is not None
    assert protocol.parse_pin(" GP15 ") == 15
    assert protocol.parse_pin("gpio2") == 2
    assert protocol.parse_pin("led") == "LED"
    with pytest.raises(ProtocolError, match="is not a pin"):
        protocol.parse_pin("D5")


def test_sensor_id_for() -> None:
    assert protocol.sensor_id_for("Living room lamp") == "living_room_lamp"
    assert protocol.sensor_id_for("Living room lamp", {"living_room_lamp"}) == "living_room_la_2"
    assert protocol.sensor_id_for("!!!") == "sensor"
    assert protocol.sensor_id_for("Küche Licht") == "k_che_licht"


def test_config_body_fills_defaults_and_drops_names(vectors: dict[str, Any]) -> None:
    config = {
        "version": 7,
        "name": "Kitchen",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": [
            {"id": "climate", "type": "dht22", "name": "Climate", "pin": 15},
            {"id": "pir", "type": "motion", "name": "PIR", "pin": 16, "off_delay": 30},
            {"id": "lamp", "type": "led", "name": "Lamp", "pin": 14, "freq": 1000},
            {"id": "status", "type": "status_led", "name": "Status", "pin": "LED"},
        ],
    }
    body = protocol.config_body(config, 1763800000000)
    assert protocol.dump_body(body) == vectors["signed"][0]["body"]
