"""Property-based tests of every parser and validator of protocol.py and settings.py.

Whatever a node, a websocket client or a user sends, a parser returns a value inside the
bounds of docs/protocol.md or raises ProtocolError (validators: their documented error);
nothing else escapes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
from typing import Any

import orjson
import pytest
import voluptuous as vol
from hypothesis import given
from hypothesis import strategies as st

from custom_components.microhome import catalogue, protocol
from custom_components.microhome.protocol import ProtocolError
from custom_components.microhome.settings import StoredSettings, validate_update
from tests.conftest import VECTORS_PATH
from tests.strategies import any_text, json_values, mutations, payloads

VECTORS = json.loads(VECTORS_PATH.read_text())
VALID = VECTORS["node_payloads"]
KEY = bytes.fromhex(VECTORS["keys"]["node_key"])
CMD_TOPIC = VECTORS["topics"]["cmd"]
FIELD_PATH = re.compile(
    r"^(n|version|name|telemetry_interval|log_level|sensors|config)(\[\d+\](\.[a-z_]+)*)?: "
)
PARSERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "announce": (protocol.parse_announce, VALID["announce"]),
    "telemetry": (protocol.parse_telemetry, VALID["telemetry"] | {"ip": "10.0.0.1", "boot": 1}),
    "log": (protocol.parse_log, VALID["log"]),
    "config_state": (protocol.parse_config_state, VALID["config_state"]),
    "ota_status": (protocol.parse_ota_status, VALID["ota_status"]),
    "reply": (protocol.parse_reply, VALID["reply"]),
    **{
        f"state_{kind}": (
            lambda payload, kind=kind: protocol.parse_state(kind, payload),
            VALID["state"][kind],
        )
        for kind in ("dht22", "motion", "led", "status_led")
    },
}
FREE_TEXT_FIELDS = {("LogEntry", "src"), ("LogEntry", "msg")}  # escaped by logs.py


def check_bounds(value: Any, owner: str = "", name: str = "") -> None:
    """Everything a parser returned can be stored (orjson) and shown (printable text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            check_bounds(getattr(value, item.name), type(value).__name__, item.name)
    elif isinstance(value, list | tuple):
        for item in value:
            check_bounds(item, owner, name)
    elif isinstance(value, str):
        assert (owner, name) in FREE_TEXT_FIELDS or value.isprintable(), (owner, name, value)
    elif isinstance(value, float):
        assert math.isfinite(value), (owner, name, value)
    elif isinstance(value, int) and not isinstance(value, bool):
        assert 0 <= value <= 2**63 or (name == "rssi" and -150 <= value <= 0), (name, value)
    orjson.dumps(value if not dataclasses.is_dataclass(value) else dataclasses.asdict(value))


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_node_payload_parsers(kind: str) -> None:
    parser, valid = PARSERS[kind]
    check_bounds(parser(json.dumps(valid).encode()))

    @given(payloads(valid))
    def parse(payload: bytes) -> None:
        try:
            result = parser(payload)
        except ProtocolError as err:
            assert len(str(err)) < 400  # one short line in HA's log
            return
        check_bounds(result)

    parse()


@given(st.one_of(st.binary(max_size=200), any_text))
def test_status_parser(payload: bytes | str) -> None:
    with contextlib.suppress(ProtocolError):
        assert protocol.parse_status(payload) in (True, False)


@given(
    st.one_of(
        st.binary(max_size=200),
        any_text,
        json_values.map(lambda body: protocol.signed_payload(KEY, CMD_TOPIC, json.dumps(body))),
        mutations({"n": 1, "cmd": "set", "id": "lamp"}).map(
            lambda body: protocol.signed_payload(KEY, CMD_TOPIC, json.dumps(body))
        ),
    )
)
def test_verify(payload: bytes | str) -> None:
    try:
        body = protocol.verify(KEY, CMD_TOPIC, payload)
    except ProtocolError as err:
        assert str(err).startswith(("signature:", "n:", "payload")), err
        return
    assert isinstance(body, dict)
    assert isinstance(body["n"], int)
    assert not isinstance(body["n"], bool)
    # A signed payload with one character changed no longer verifies.
    text = payload if isinstance(payload, str) else payload.decode()
    forged = ("0" if text[0] != "0" else "1") + text[1:]
    with pytest.raises(ProtocolError, match=r"^signature:"):
        protocol.verify(KEY, CMD_TOPIC, forged)


VALID_CONFIG = VECTORS["configs"]["valid"][0]["config"]
sensors = st.lists(
    st.one_of(
        json_values,
        st.sampled_from(VALID_CONFIG["sensors"]).flatmap(mutations),
        st.sampled_from(VALID_CONFIG["sensors"]),
    ),
    max_size=18,
)


@given(
    st.one_of(
        json_values,
        mutations(VALID_CONFIG),
        sensors.map(lambda items: VALID_CONFIG | {"sensors": items}),
    ),
    st.sampled_from(protocol.PLATFORMS),
)
def test_validate_config(config: Any, platform: str) -> None:
    errors = protocol.validate_config(config, platform)
    assert all(isinstance(error, str) and FIELD_PATH.match(error) for error in errors), errors
    if not errors:
        # A valid configuration is sent as it is: its body validates too.
        body = protocol.config_body(config, config["n"])
        assert protocol.validate_config(body, platform) == []


@given(st.one_of(any_text, st.from_regex(r"(?i)(gp|gpio)?\d{1,3}", fullmatch=True)))
def test_parse_pin(text: str) -> None:
    try:
        pin = protocol.parse_pin(text)
    except ProtocolError:
        return
    assert pin == "LED" or (isinstance(pin, int) and 0 <= pin <= 99)
    for platform in protocol.PLATFORMS:
        for sensor_type in catalogue.TYPES:
            reason = protocol.pin_error(platform, sensor_type, pin)
            assert (reason is None) == (pin in protocol.valid_pins(platform, sensor_type))


@given(json_values)
def test_pin_error(pin: Any) -> None:
    for platform in protocol.PLATFORMS:
        reason = protocol.pin_error(platform, "led", pin)
        assert reason is None or isinstance(reason, str)


@given(any_text, st.sets(st.from_regex(r"[a-z0-9_]{1,16}", fullmatch=True), max_size=5))
def test_sensor_id_for(name: str, taken: set[str]) -> None:
    ident = protocol.sensor_id_for(name, taken)
    assert protocol.is_sensor_id(ident)
    assert ident not in taken


@given(any_text, st.integers(1, 2000))
def test_escape_text(text: str, limit: int) -> None:
    escaped = protocol.escape_text(text, limit)
    assert escaped.isprintable()
    assert "\n" not in escaped
    escaped.encode()  # no lone surrogate left
    assert protocol.escape_text(escaped, 10 * limit) == escaped
    if text.isprintable() and len(text) <= limit:
        assert escaped == text


SETTINGS_KEYS = ["ftp_port", "ftp_passive_ports", "ha_address", "log_history"]


@given(
    st.dictionaries(
        st.sampled_from(SETTINGS_KEYS),
        st.one_of(
            json_values,
            st.integers(0, 70000),
            st.lists(st.integers(0, 70000), min_size=2, max_size=2),
            st.sampled_from(["192.168.1.2", "ha.local", "fe80::1", "-bad-", "a" * 300]),
        ),
    )
)
def test_settings_validator(changes: dict[str, Any]) -> None:
    current = StoredSettings()
    try:
        updated = validate_update(current, changes)
    except vol.Invalid:
        return
    assert isinstance(updated, StoredSettings)
    # What is stored validates again unchanged.
    assert validate_update(StoredSettings(), dataclasses.asdict(updated)) == updated
