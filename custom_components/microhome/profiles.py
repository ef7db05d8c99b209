"""Profiles: one named node configuration that many nodes follow, each with its overrides.

Plain Python, without Home Assistant (fleet.py keeps profiles in HA's storage and applies them
to config entries). A profile holds what the node configuration holds apart from the node's
name: peripherals, telemetry interval, log level. A follower's overrides patch single fields
of single peripherals by peripheral id (a pin, a name, a calibration parameter, a probe's ROM);
the result is checked as the whole configuration the node would get, so every peripheral type
the catalogue knows works without profile-specific code.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from . import catalogue, protocol
from .const import CONF_LOG_LEVEL, CONF_NAME, CONF_PERIPHERALS, CONF_TELEMETRY_INTERVAL

# The options keys of a follower: the profile it follows and its overrides.
CONF_PROFILE: Final = "profile"
CONF_OVERRIDES: Final = "overrides"
PROFILE_OPTIONS: Final = (CONF_PROFILE, CONF_OVERRIDES)

PROFILE_NAME_MAX: Final = 64
# What identifies a peripheral cannot be overridden: overrides are addressed by it.
FIXED_FIELDS: Final = frozenset({"id", "type"})
# A profile edit reaches its followers one after another, at most this many a second.
PUSHES_PER_SECOND: Final = 10.0

# What a follower's push came to.
PENDING: Final = "pending"  # sent; the node has not answered it yet
APPLIED: Final = "applied"
REJECTED: Final = "rejected"  # the node refused it, or it is not valid for the node
UNCHANGED: Final = "unchanged"

type Overrides = dict[str, dict[str, Any]]


class ProfileError(ValueError):
    """A profile or overrides that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Profile:
    """A named configuration: the node configuration without the node's name."""

    profile_id: str
    name: str
    platform: str
    telemetry_interval: int
    log_level: str
    sensors: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        """The profile as stored and as the panel shows it."""
        return {
            "id": self.profile_id,
            "name": self.name,
            "platform": self.platform,
            CONF_TELEMETRY_INTERVAL: self.telemetry_interval,
            CONF_LOG_LEVEL: self.log_level,
            CONF_PERIPHERALS: [dict(p) for p in self.sensors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """A profile from its stored form; ProfileError if it is not a valid profile."""
        if not isinstance(data, dict):
            raise ProfileError("a profile is an object")
        profile = cls(
            profile_id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            platform=str(data.get("platform", "")),
            telemetry_interval=data.get(CONF_TELEMETRY_INTERVAL),  # type: ignore[arg-type]
            log_level=data.get(CONF_LOG_LEVEL),  # type: ignore[arg-type]
            sensors=tuple(copy.deepcopy(data.get(CONF_PERIPHERALS) or [])),
        )
        if errors := profile_errors(profile):
            raise ProfileError("; ".join(errors))
        return profile


def profile_id_for(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A profile id made from its name, unique among taken (ids look like peripheral ids)."""
    return protocol.sensor_id_for(name, taken)


def profile_from_config(
    profile_id: str, name: str, platform: str, config: dict[str, Any]
) -> Profile:
    """A profile holding a node's configuration (its peripherals, interval and log level)."""
    return Profile.from_dict(
        {
            "id": profile_id,
            "name": name,
            "platform": platform,
            CONF_TELEMETRY_INTERVAL: config.get(CONF_TELEMETRY_INTERVAL),
            CONF_LOG_LEVEL: config.get(CONF_LOG_LEVEL),
            CONF_PERIPHERALS: config.get(CONF_PERIPHERALS) or [],
        }
    )


def resolve(profile: Profile, overrides: Overrides, node_name: str) -> dict[str, Any]:
    """The configuration a follower gets: the profile, its overrides, its own name.

    Overrides of a peripheral the profile no longer has are kept by the caller but do nothing.
    """
    sensors = []
    for peripheral in profile.sensors:
        patched = copy.deepcopy(peripheral)
        patched.update(copy.deepcopy(overrides.get(str(peripheral.get("id")), {})))
        sensors.append(patched)
    return {
        CONF_NAME: node_name,
        CONF_TELEMETRY_INTERVAL: profile.telemetry_interval,
        CONF_LOG_LEVEL: profile.log_level,
        CONF_PERIPHERALS: sensors,
    }


def config_errors(config: dict[str, Any], platform: str) -> list[str]:
    """Every problem of a configuration as the node of platform would see it."""
    try:
        body = protocol.config_body({**config, "version": 1}, 1)
    except KeyError, TypeError:
        return ["sensors: every peripheral needs an id, a type and a pin"]
    return protocol.validate_config(body, platform)


def profile_errors(profile: Profile) -> list[str]:
    """Every problem of a profile: its id, its name and its configuration on its platform."""
    errors = []
    if not protocol.is_sensor_id(profile.profile_id):
        errors.append(f"id: {protocol.describe(profile.profile_id)} is not a profile id")
    if not profile.name.strip() or len(profile.name) > PROFILE_NAME_MAX:
        errors.append(f"name: 1-{PROFILE_NAME_MAX} characters")
    elif not profile.name.isprintable():
        errors.append(f"name: {protocol.describe(profile.name)} has unprintable characters")
    if profile.platform not in catalogue.PLATFORMS:
        errors.append(f"platform: {protocol.describe(profile.platform)} is not a platform")
        return errors
    if not all(isinstance(p, dict) for p in profile.sensors):
        return [*errors, "sensors: expected a list of objects"]
    return errors + config_errors(resolve(profile, {}, "profile"), profile.platform)


def override_errors(profile: Profile, overrides: object) -> list[str]:
    """The problems of overrides in themselves (the resulting configuration is checked apart)."""
    if not isinstance(overrides, dict):
        return ["overrides: expected an object of peripheral ids"]
    ids = {p["id"] for p in profile.sensors}
    errors = []
    for peripheral_id, patch in overrides.items():
        where = f"overrides.{protocol.describe(peripheral_id, 20)}"
        if peripheral_id not in ids:
            errors.append(f"{where}: the profile has no such peripheral")
        elif not isinstance(patch, dict):
            errors.append(f"{where}: expected an object of fields")
        elif fixed := sorted(FIXED_FIELDS & patch.keys()):
            errors.append(f"{where}: {', '.join(fixed)} cannot be overridden")
    return errors


def parse_overrides(overrides: object) -> Overrides:
    """Overrides as given by a user: pins written as text ("GP15", "LED") become pins."""
    if not isinstance(overrides, dict):
        raise ProfileError("overrides: expected an object of peripheral ids")
    parsed: Overrides = {}
    for peripheral_id, patch in overrides.items():
        if not isinstance(patch, dict):
            raise ProfileError(f"overrides.{protocol.describe(peripheral_id, 20)}: not an object")
        fields = dict(patch)
        if isinstance(fields.get("pin"), str):
            try:
                fields["pin"] = protocol.parse_pin(fields["pin"])
            except protocol.ProtocolError as err:
                raise ProfileError(f"overrides.{peripheral_id}.pin: {err}") from err
        parsed[str(peripheral_id)] = fields
    return parsed


def follower_config(
    profile: Profile, overrides: Overrides, node_name: str, platform: str
) -> dict[str, Any]:
    """A follower's whole configuration; ProfileError with every problem if it is not valid."""
    if errors := override_errors(profile, overrides):
        raise ProfileError("; ".join(errors))
    config = resolve(profile, overrides, node_name)
    if errors := config_errors(config, platform):
        raise ProfileError("; ".join(errors))
    return config


@dataclass(slots=True)
class PushResult:
    """What applying a profile did to one node."""

    node_id: str
    name: str
    result: str
    version: int | None = None
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as a service response or the panel shows it."""
        return {
            "name": self.name,
            "result": self.result,
            "version": self.version,
            "errors": list(self.errors),
        }


async def roll_out[T](
    targets: list[T],
    apply: Callable[[T], Awaitable[PushResult]],
    on_result: Callable[[PushResult], None] | None = None,
    per_second: float = PUSHES_PER_SECOND,
) -> list[PushResult]:
    """Apply to every target, one after another at a bounded rate; one failure stops nothing."""
    results = []
    for index, target in enumerate(targets):
        if index:
            await asyncio.sleep(1 / per_second)
        result = await apply(target)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
