"""The fleet key: created once, kept in Home Assistant's storage."""

import asyncio
import logging
import secrets

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.fleet_key"
STORAGE_VERSION = 1
FLEET_KEY_BYTES = 32

_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_fleet_key_lock")
_KEY: HassKey[bytes] = HassKey(f"{DOMAIN}_fleet_key")


async def async_get_fleet_key(hass: HomeAssistant) -> bytes:
    """The 32-byte fleet key, created and stored the first time it is asked for."""
    if (key := hass.data.get(_KEY)) is not None:
        return key
    lock = hass.data.setdefault(_LOCK, asyncio.Lock())
    async with lock:
        if (key := hass.data.get(_KEY)) is not None:
            return key
        store: Store[dict[str, str]] = Store(hass, STORAGE_VERSION, STORAGE_KEY, private=True)
        stored = await store.async_load()
        try:
            key = bytes.fromhex(stored["fleet_key"]) if stored else b""
        except KeyError, TypeError, ValueError:
            key = b""
        if len(key) != FLEET_KEY_BYTES:
            if stored:
                _LOGGER.error(
                    "The stored fleet key is not 32 bytes of hex; a new one is made and every "
                    "node must be flashed again"
                )
            key = secrets.token_bytes(FLEET_KEY_BYTES)
            await store.async_save({"fleet_key": key.hex()})
        hass.data[_KEY] = key
        return key
