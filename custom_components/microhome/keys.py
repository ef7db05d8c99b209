"""The fleet key: created once, kept in Home Assistant's storage."""

import asyncio
import logging
import secrets

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .settings import async_get_manager

_LOGGER = logging.getLogger(__name__)

STORAGE_KEY = f"{DOMAIN}.fleet_key"
STORAGE_VERSION = 1
FLEET_KEY_BYTES = 32

# A broker that Home Assistant reaches on loopback is reached by nodes at its own address.
LOOPBACK_BROKERS = ("localhost", "127.0.0.1", "::1", "core-mosquitto")

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


def broker_address(hass: HomeAssistant, ha_address: str) -> str:
    """The MQTT broker as a node must reach it (HOST[:PORT])."""
    entries = hass.config_entries.async_entries(mqtt.DOMAIN)
    if not entries:
        return ha_address
    data = entries[0].data
    host = str(data.get("broker") or ha_address)
    if host in LOOPBACK_BROKERS:
        host = ha_address
    port = int(data.get("port", 1883))
    if ":" in host:
        host = f"[{host}]"
    return host if port == 1883 else f"{host}:{port}"


def broker_needs_login(hass: HomeAssistant) -> bool:
    """Whether Home Assistant logs in to the broker: then the nodes need a login too."""
    entries = hass.config_entries.async_entries(mqtt.DOMAIN)
    return bool(entries and entries[0].data.get("username"))


async def async_flash_command(hass: HomeAssistant, fleet_key: bytes) -> tuple[str, str]:
    """The broker address for nodes, and the `microhome flash` command for a new board.

    A node logs in with a broker login of its own, never Home Assistant's: the command has
    placeholders for it.
    """
    settings = await (await async_get_manager(hass)).async_get()
    broker = broker_address(hass, settings.ha_address)
    command = (
        "microhome flash --port /dev/ttyACM0 --wifi-ssid YOUR_WIFI --wifi-password YOUR_PASSWORD"
        f" --broker {broker}"
    )
    if broker_needs_login(hass):
        command += " --mqtt-user NODE_MQTT_USER --mqtt-password NODE_MQTT_PASSWORD"
    return broker, f"{command} --fleet-key {fleet_key.hex()}"
