"""The profile logic without Home Assistant (custom_components/microhome/profiles.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from custom_components.microhome.profiles import (
    PENDING,
    Profile,
    ProfileError,
    PushResult,
    follower_config,
    parse_overrides,
    profile_from_config,
    profile_id_for,
    resolve,
    roll_out,
)

CONFIG: dict[str, Any] = {
    "name": "Kitchen",
    "telemetry_interval": 60,
    "log_level": "I",
    "sensors": [
        {"id": "climate", "type": "dht22", "name": "Climate", "pin": 15, "interval": 30},
        {"id": "lamp", "type": "led", "name": "Lamp", "pin": 14, "freq": 1000},
    ],
}


def room() -> Profile:
    return profile_from_config("room", "Room", "rp2", CONFIG)


def test_a_follower_gets_the_profile_with_its_name_and_overrides() -> None:
    config = follower_config(room(), {"climate": {"pin": 2, "name": "Desk"}}, "Study", "rp2")
    assert config["name"] == "Study"
    assert config["sensors"][0] == {
        "id": "climate",
        "type": "dht22",
        "name": "Desk",
        "pin": 2,
        "interval": 30,
    }
    assert config["sensors"][1] == CONFIG["sensors"][1]
    # The profile itself is not changed by a follower's overrides.
    assert room().sensors[0]["pin"] == 15
    assert resolve(room(), {}, "x")["sensors"][0]["name"] == "Climate"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"climate": {"id": "other"}}, "id cannot be overridden"),
        ({"climate": {"type": "motion"}}, "type cannot be overridden"),
        ({"ghost": {"pin": 3}}, "no such peripheral"),
        ({"climate": {"pin": 14}}, "14 used twice"),
        ({"climate": {"interval": float("nan")}}, "sensors[0].interval"),
        ({"lamp": {"freq": 10**40}}, "sensors[1].freq"),
        ({"climate": ["pin", 3]}, "expected an object of fields"),
    ],
)
def test_overrides_that_break_the_configuration_are_refused(
    overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ProfileError) as err:
        follower_config(room(), overrides, "Study", "rp2")
    assert problem in str(err.value)


def test_a_pin_the_board_lacks_is_refused_for_that_board_only() -> None:
    profile = profile_from_config(
        "room", "Room", "rp2", {**CONFIG, "sensors": [{**CONFIG["sensors"][1], "pin": 28}]}
    )
    assert follower_config(profile, {}, "Pico", "rp2")["sensors"][0]["pin"] == 28
    with pytest.raises(ProfileError, match=r"sensors\[0\]\.pin"):
        follower_config(profile, {}, "ESP", "esp32")


@pytest.mark.parametrize(
    "stored",
    [
        "a profile",
        {"id": "Bad Id", "name": "x", "platform": "rp2", **CONFIG},
        {**CONFIG, "id": "room", "name": "", "platform": "rp2"},
        {**CONFIG, "id": "room", "name": "x" * 65, "platform": "rp2"},
        {**CONFIG, "id": "room", "name": "\ud800", "platform": "z80"},
        {"id": "room", "name": "x", "platform": "rp2", **CONFIG, "sensors": ["<b>"]},
        {"id": "room", "name": "x", "platform": "rp2", **CONFIG, "sensors": [{"id": "a"}]},
        {**CONFIG, "id": "room", "name": "x", "platform": "rp2", "sensors": [{"type": "led"}]},
        {"id": "room", "name": "x", "platform": "rp2", **CONFIG, "log_level": "\n"},
        {"id": "room", "name": "x", "platform": "rp2", **CONFIG, "telemetry_interval": 1e300},
    ],
)
def test_a_stored_profile_that_is_not_valid_is_refused(stored: Any) -> None:
    with pytest.raises(ProfileError):
        Profile.from_dict(stored)


def test_a_profile_survives_its_stored_form() -> None:
    profile = room()
    assert Profile.from_dict(profile.as_dict()) == profile


@pytest.mark.parametrize(
    ("overrides", "parsed"),
    [
        ({"climate": {"pin": "GP2"}}, {"climate": {"pin": 2}}),
        ({"status": {"pin": "LED"}}, {"status": {"pin": "LED"}}),
        ({"climate": {"name": "Desk"}}, {"climate": {"name": "Desk"}}),
    ],
)
def test_pins_written_as_text_are_parsed(overrides: Any, parsed: Any) -> None:
    assert parse_overrides(overrides) == parsed


@pytest.mark.parametrize("overrides", ["x", {"climate": 3}, {"climate": {"pin": "GP\ud800"}}])
def test_overrides_that_are_not_objects_are_refused(overrides: Any) -> None:
    with pytest.raises(ProfileError):
        parse_overrides(overrides)


def test_profile_ids_are_unique() -> None:
    assert profile_id_for("Room sensor") == "room_sensor"
    assert profile_id_for("Room sensor", {"room_sensor"}) == "room_sensor_2"
    assert profile_id_for("<script>") == "script"


def test_roll_out_goes_on_after_a_failure() -> None:
    seen: list[str] = []

    async def apply(node_id: str) -> PushResult:
        if node_id == "b":
            return PushResult(node_id, node_id, "rejected", None, ["no"])
        return PushResult(node_id, node_id, PENDING, 2)

    results = asyncio.run(roll_out(["a", "b", "c"], apply, lambda r: seen.append(r.node_id), 1000))
    assert [r.result for r in results] == [PENDING, "rejected", PENDING]
    assert seen == ["a", "b", "c"]
