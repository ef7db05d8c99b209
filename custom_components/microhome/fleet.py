"""Profiles in Home Assistant: kept in the integration's storage, applied to config entries.

The profile logic is in profiles.py; here a profile's followers are the config entries whose
options name it, and applying a profile stores the resulting configuration in the entry's
options, from where the node is sent it as any other configuration (client.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .client import Change
from .const import CONF_ANNOUNCE, CONF_PERIPHERALS, CONF_PLATFORM, CONF_VERSION, DOMAIN
from .issues import async_set_issue, profile_refused_issue_id
from .node import MicroHomeConfigEntry, MicroHomeNode
from .ota import FirmwareBundle
from .ota_job import FAILED, OtaManager, OtaResult
from .profiles import (
    APPLIED,
    CONF_OVERRIDES,
    CONF_PROFILE,
    PENDING,
    PROFILE_OPTIONS,
    REJECTED,
    UNCHANGED,
    Overrides,
    Profile,
    ProfileError,
    PushResult,
    follower_config,
    profile_from_config,
    profile_id_for,
    roll_out,
)

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY: Final = f"{DOMAIN}.profiles"
STORAGE_VERSION: Final = 1
DATA_PROFILES: HassKey[ProfileManager] = HassKey(f"{DOMAIN}_profiles")


def entry_platform(entry: MicroHomeConfigEntry) -> str:
    """The node's platform: from its last announce, else as chosen when it was added."""
    announce = entry.data.get(CONF_ANNOUNCE) or {}
    return str(announce.get("platform") or entry.data.get(CONF_PLATFORM, "rp2"))


def next_version(entry: MicroHomeConfigEntry) -> int:
    """A configuration version above every version the entry and the node have seen."""
    announced = (entry.data.get(CONF_ANNOUNCE) or {}).get("cfg", 0)
    node_cfg = announced if isinstance(announced, int) else 0
    return max(int(entry.options.get(CONF_VERSION, 0)), node_cfg) + 1


def config_state(node: MicroHomeNode) -> str:
    """applied, pending or rejected: what the node made of its current configuration."""
    if node.config_rejected:
        return REJECTED
    return PENDING if node.config_pending else APPLIED


def node_row(node: MicroHomeNode, profiles: dict[str, Profile]) -> dict[str, Any]:
    """What the panel's Nodes page shows of a configured node."""
    announce = node.announce
    profile_id = node.entry.options.get(CONF_PROFILE)
    profile = profiles.get(profile_id) if isinstance(profile_id, str) else None
    state = node.config_state
    return {
        "board": announce.board if announce else None,
        "platform": node.platform,
        "config_version": node.config_version,
        "config_state": config_state(node) if node.config_version else None,
        "config_errors": list(state.errors) if node.config_rejected and state else [],
        "profile": profile.profile_id if profile else None,
        "profile_name": profile.name if profile else None,
        "overrides": node.entry.options.get(CONF_OVERRIDES) or {} if profile else {},
    }


async def async_update_firmware(
    manager: OtaManager,
    nodes: list[MicroHomeNode],
    bundle: FirmwareBundle,
    *,
    force: bool,
    concurrency: int,
    on_result: Callable[[OtaResult], None] | None = None,
) -> list[OtaResult]:
    """Update the nodes, at most concurrency at a time; a node that fails stops no other."""
    slots = asyncio.Semaphore(concurrency)

    async def update(node: MicroHomeNode) -> OtaResult:
        async with slots:
            try:
                result = await manager.async_update(node, bundle, force)
            except HomeAssistantError as err:
                result = OtaResult(
                    node.node_id,
                    node.name,
                    FAILED,
                    bundle.version,
                    node.firmware,
                    0,
                    str(err).rstrip("."),
                )
        if on_result is not None:
            on_result(result)
        return result

    return list(await asyncio.gather(*(update(node) for node in nodes)))


def _invalid(name: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=name, translation_placeholders=placeholders
    )


class ProfileManager:
    """Every profile, stored in `.storage/microhome.profiles`, and their followers."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start with no profiles; async_load reads them."""
        self.hass = hass
        self.profiles: dict[str, Profile] = {}
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._lock = asyncio.Lock()

    async def async_load(self) -> None:
        """Read the stored profiles; a stored profile that is not valid is logged and skipped."""
        data = await self._store.async_load() or {}
        for stored in data.get("profiles", []):
            try:
                profile = Profile.from_dict(stored)
            except ProfileError as err:
                _LOGGER.warning("Skipped a stored profile that is not valid: %s", err)
                continue
            self.profiles[profile.profile_id] = profile

    async def _async_save(self) -> None:
        await self._store.async_save({"profiles": [p.as_dict() for p in self.profiles.values()]})

    def get(self, profile_id: str) -> Profile:
        """One profile; ServiceValidationError if there is no such profile."""
        if (profile := self.profiles.get(profile_id)) is None:
            raise _invalid("unknown_profile", profile=profile_id)
        return profile

    @callback
    def followers(self, profile_id: str) -> list[MicroHomeConfigEntry]:
        """The config entries of the nodes that follow the profile."""
        return [
            entry
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.options.get(CONF_PROFILE) == profile_id
        ]

    def options_following(
        self, entry: MicroHomeConfigEntry, profile: Profile, overrides: Overrides
    ) -> dict[str, Any]:
        """The entry's options when it follows profile; ProfileError if not valid for it."""
        config = follower_config(
            profile, overrides, entry.options.get("name") or entry.title, entry_platform(entry)
        )
        return {
            **entry.options,
            **config,
            CONF_PROFILE: profile.profile_id,
            CONF_OVERRIDES: overrides,
            CONF_VERSION: next_version(entry),
        }

    def new_node_options(
        self, profile_id: str, name: str, platform: str, announced_cfg: int
    ) -> dict[str, Any]:
        """The options of a node added to follow the profile; ProfileError if not valid."""
        profile = self.get(profile_id)
        return {
            **follower_config(profile, {}, name, platform),
            CONF_PROFILE: profile_id,
            CONF_OVERRIDES: {},
            CONF_VERSION: announced_cfg + 1,
        }

    async def async_create(
        self, name: str, entry: MicroHomeConfigEntry, follow: bool = False
    ) -> Profile:
        """A new profile holding the node's configuration; the node may follow it at once."""
        name = name.strip()
        try:
            profile = profile_from_config(
                profile_id_for(name, set(self.profiles)),
                name,
                entry_platform(entry),
                dict(entry.options),
            )
        except ProfileError as err:
            raise _invalid("invalid_profile", errors=str(err)) from err
        self.profiles[profile.profile_id] = profile
        await self._async_save()
        if follow:
            self.hass.config_entries.async_update_entry(
                entry,
                options={**entry.options, CONF_PROFILE: profile.profile_id, CONF_OVERRIDES: {}},
            )
        return profile

    async def async_update(
        self,
        profile_id: str,
        changes: dict[str, Any],
        source: MicroHomeConfigEntry | None = None,
    ) -> list[PushResult]:
        """Change a profile and send the result to each follower at a bounded rate.

        With a source node, the profile's peripherals become that node's; the node then follows
        the profile without overrides.
        """
        current = self.get(profile_id)
        if source is not None:
            if (platform := entry_platform(source)) != current.platform:
                raise _invalid(
                    "profile_other_platform",
                    node=source.title,
                    platform=platform,
                    profile_platform=current.platform,
                )
            changes = {**changes, CONF_PERIPHERALS: source.options.get(CONF_PERIPHERALS) or []}
        try:
            profile = Profile.from_dict({**current.as_dict(), **changes, "id": profile_id})
        except ProfileError as err:
            raise _invalid("invalid_profile", errors=str(err)) from err
        self.profiles[profile_id] = profile
        await self._async_save()
        followers = self.followers(profile_id)
        if source is None:
            return await self.async_apply(followers, profile_id)
        if source not in followers:
            followers.append(source)
        return await self.async_apply(followers, profile_id, {_node_id(source): {}})

    async def async_delete(self, profile_id: str) -> list[str]:
        """Forget a profile; its followers keep their last configuration as their own."""
        self.get(profile_id)
        followers = self.followers(profile_id)
        for entry in followers:
            await self.async_detach(entry)
        del self.profiles[profile_id]
        await self._async_save()
        return [entry.unique_id or entry.entry_id for entry in followers]

    async def async_detach(self, entry: MicroHomeConfigEntry) -> None:
        """The node keeps its configuration as its own; nothing is sent to it."""
        options = {k: v for k, v in entry.options.items() if k not in PROFILE_OPTIONS}
        async_set_issue(self.hass, profile_refused_issue_id(_node_id(entry)), None)
        self.hass.config_entries.async_update_entry(entry, options=options)

    async def async_apply(
        self,
        entries: list[MicroHomeConfigEntry],
        profile_id: str,
        overrides: dict[str, Overrides] | None = None,
    ) -> list[PushResult]:
        """Make the nodes follow the profile (with their overrides, by node id) and send each
        its configuration, one after another; a node it does not suit keeps its own."""
        profile = self.get(profile_id)

        async def apply(entry: MicroHomeConfigEntry) -> PushResult:
            return await self._async_apply_one(
                entry, profile, (overrides or {}).get(_node_id(entry))
            )

        async with self._lock:
            return await roll_out(entries, apply)

    async def _async_apply_one(
        self, entry: MicroHomeConfigEntry, profile: Profile, overrides: Overrides | None
    ) -> PushResult:
        node_id = _node_id(entry)
        if overrides is None:
            kept = entry.options.get(CONF_OVERRIDES) if entry.options.get(CONF_PROFILE) else None
            overrides = dict(kept or {})
        try:
            options = self.options_following(entry, profile, overrides)
        except ProfileError as err:
            errors = str(err).split("; ")
            async_set_issue(
                self.hass,
                profile_refused_issue_id(node_id),
                "profile_refused",
                {"name": entry.title, "profile": profile.name, "errors": str(err)},
            )
            _LOGGER.warning(
                "Profile %s does not suit node %s, which keeps its configuration: %s",
                profile.name,
                node_id,
                err,
            )
            return PushResult(node_id, entry.title, REJECTED, None, errors)
        async_set_issue(self.hass, profile_refused_issue_id(node_id), None)
        if _same_config(options, dict(entry.options)):
            return PushResult(node_id, entry.title, UNCHANGED, entry.options.get(CONF_VERSION))
        # The entry's update listener sends it (client.py); roll_out spaces the updates.
        self.hass.config_entries.async_update_entry(entry, options=options)
        return PushResult(node_id, entry.title, PENDING, options[CONF_VERSION])


def _node_id(entry: MicroHomeConfigEntry) -> str:
    return str(entry.unique_id or entry.data.get("node_id"))


def _same_config(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether two options differ in nothing but their version."""
    return {**new, CONF_VERSION: 0} == {**old, CONF_VERSION: 0}


async def async_wait_applied(node: MicroHomeNode, result: PushResult, wait: float) -> PushResult:
    """result, once the node applied or refused its version (or wait seconds passed)."""
    if result.result != PENDING or wait <= 0:
        return result
    done = asyncio.Event()

    def check() -> None:
        if not node.config_pending:
            done.set()

    remove = node.listen(Change.CONFIG_STATE, check)
    try:
        check()
        async with asyncio.timeout(wait):
            await done.wait()
    except TimeoutError:
        return result
    finally:
        remove()
    state = node.config_state
    if node.config_rejected and state is not None:
        result.result, result.errors = REJECTED, list(state.errors)
    else:
        result.result = APPLIED
    return result


async def async_get_profiles(hass: HomeAssistant) -> ProfileManager:
    """The profile manager, loaded from storage on first use."""
    if (manager := hass.data.get(DATA_PROFILES)) is None:
        manager = ProfileManager(hass)
        await manager.async_load()
        hass.data[DATA_PROFILES] = manager
    return manager
