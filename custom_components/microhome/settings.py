"""MicroHome's global settings: FTP ports, the address nodes use, log history size."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import probatio as vol
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.settings"
STORAGE_VERSION = 1

LOG_HISTORY_MIN = 100
LOG_HISTORY_MAX = 100_000

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$"
)

DATA_SETTINGS: HassKey[SettingsManager] = HassKey(f"{DOMAIN}_settings")


@dataclass(frozen=True, slots=True)
class StoredSettings:
    """The settings as the user set them; an empty `ha_address` means automatic."""

    ftp_port: int = 2121
    ftp_passive_ports: tuple[int, int] = (2122, 2131)
    ha_address: str = ""
    log_history: int = 5000


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings in force, with the node-facing address resolved."""

    ftp_port: int
    ftp_passive_ports: tuple[int, int]
    ha_address: str
    ha_address_auto: bool
    log_history: int

    @property
    def passive_port_range(self) -> range:
        """The FTP passive ports as a range, last port included."""
        return range(self.ftp_passive_ports[0], self.ftp_passive_ports[1] + 1)


def _address(value: Any) -> str:
    """An IP address or host name nodes can reach, or empty for automatic."""
    text = vol.Coerce(str)(value).strip()
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        return text
    raise vol.Invalid("not an IP address or host name")


_PORT = vol.All(int, vol.Range(min=1, max=65535))


def _passive_ports(value: Any) -> tuple[int, int]:
    ports = vol.Schema(vol.All(vol.ExactSequence([_PORT, _PORT])))(list(value))
    first, last = int(ports[0]), int(ports[1])
    if first > last:
        raise vol.Invalid("first passive port is above the last")
    if last - first > 1000:
        raise vol.Invalid("at most 1001 passive ports")
    return (first, last)


SETTINGS_UPDATE_SCHEMA = vol.Schema(
    {
        vol.Optional("ftp_port"): _PORT,
        vol.Optional("ftp_passive_ports"): vol.All(vol.Length(min=2, max=2), _passive_ports),
        vol.Optional("ha_address"): vol.All(vol.Any(str, None), lambda v: _address(v or "")),
        vol.Optional("log_history"): vol.All(
            int, vol.Range(min=LOG_HISTORY_MIN, max=LOG_HISTORY_MAX)
        ),
    }
)


def validate_update(current: StoredSettings, changes: dict[str, Any]) -> StoredSettings:
    """The stored settings with `changes` applied; raises vol.Invalid with the reason."""
    checked = SETTINGS_UPDATE_SCHEMA(changes)
    new = replace(current, **checked)
    first, last = new.ftp_passive_ports
    if first <= new.ftp_port <= last:
        raise vol.Invalid("ftp_port must be outside the passive port range", path=["ftp_port"])
    return new


async def async_default_address(hass: HomeAssistant) -> str:
    """Home Assistant's own address on the local network."""
    try:
        from homeassistant.components import network  # noqa: PLC0415

        return await network.async_get_source_ip(hass)
    except HomeAssistantError, OSError:
        pass
    api = getattr(hass.config, "api", None)
    if api is not None and api.local_ip:
        return str(api.local_ip)
    return "127.0.0.1"


class SettingsManager:
    """Loads, validates, saves and hands out the global settings."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self.stored = StoredSettings()
        self._listeners: list[Callable[[StoredSettings], None]] = []

    async def async_load(self) -> None:
        """Read the stored settings; anything invalid falls back to the defaults."""
        data = await self._store.async_load()
        if not data:
            return
        try:
            self.stored = validate_update(StoredSettings(), data)
        except vol.Invalid as err:
            _LOGGER.warning("Stored MicroHome settings are invalid (%s); using defaults", err)

    async def async_get(self) -> Settings:
        """The settings in force."""
        stored = self.stored
        address = stored.ha_address or await async_default_address(self.hass)
        return Settings(
            ftp_port=stored.ftp_port,
            ftp_passive_ports=stored.ftp_passive_ports,
            ha_address=address,
            ha_address_auto=not stored.ha_address,
            log_history=stored.log_history,
        )

    async def async_update(self, changes: dict[str, Any]) -> StoredSettings:
        """Validate and store `changes`; raises vol.Invalid and changes nothing if bad."""
        new = validate_update(self.stored, changes)
        self.stored = new
        await self._store.async_save(stored_as_dict(new))
        for listener in list(self._listeners):
            listener(new)
        return new

    @callback
    def async_listen(self, listener: Callable[[StoredSettings], None]) -> CALLBACK_TYPE:
        """Call `listener` with the new settings after every change."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove


def stored_as_dict(stored: StoredSettings) -> dict[str, Any]:
    """JSON-ready form of the stored settings."""
    data = asdict(stored)
    data["ftp_passive_ports"] = list(stored.ftp_passive_ports)
    return data


_LOAD_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_settings_lock")


async def async_get_manager(hass: HomeAssistant) -> SettingsManager:
    """The settings manager, loaded on first use."""
    if (manager := hass.data.get(DATA_SETTINGS)) is not None:
        return manager
    lock = hass.data.setdefault(_LOAD_LOCK, asyncio.Lock())
    async with lock:
        if (manager := hass.data.get(DATA_SETTINGS)) is None:
            manager = SettingsManager(hass)
            await manager.async_load()
            hass.data[DATA_SETTINGS] = manager
    return manager


async def async_get_settings(hass: HomeAssistant) -> Settings:
    """MicroHome's global settings in force (for the OTA server and the panel)."""
    return await (await async_get_manager(hass)).async_get()
