"""Constants for MicroHome."""

from typing import Final

DOMAIN: Final = "microhome"
MANUFACTURER: Final = "MicroHome"

CONF_NODE_ID: Final = "node_id"
CONF_PLATFORM: Final = "platform"
CONF_ANNOUNCE: Final = "announce"
# The area the user chose when adding the node (its name): the device is created in it.
CONF_AREA: Final = "area"

# Options: the node's configuration as Home Assistant keeps it.
CONF_VERSION: Final = "version"
CONF_NAME: Final = "name"
CONF_TELEMETRY_INTERVAL: Final = "telemetry_interval"
CONF_LOG_LEVEL: Final = "log_level"
CONF_SENSORS: Final = "sensors"

DEFAULT_TELEMETRY_INTERVAL: Final = 60
DEFAULT_LOG_LEVEL: Final = "I"
# The log-level choices of the options flow (selector keys, lower-case for Home Assistant) and
# the node's level each one stands for; options keep the node's level.
LOG_LEVEL_CHOICES: Final = {
    "debug": "D",
    "info": "I",
    "warning": "W",
    "error": "E",
    "critical": "C",
}

REPLY_TIMEOUT: Final = 5.0


def signal_update(node_id: str, what: str) -> str:
    """The dispatcher signal sent when `what` of a node changes.

    `what` is `availability`, `telemetry`, `config`, `announce`, `ota` or `state/<sensor_id>`.
    """
    return f"{DOMAIN}_{node_id}_{what}"
