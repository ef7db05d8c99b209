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
# The configured peripherals; stored as `sensors`, the protocol's name for them.
CONF_PERIPHERALS: Final = "sensors"

DEFAULT_TELEMETRY_INTERVAL: Final = 60
DEFAULT_LOG_LEVEL: Final = "I"

REPLY_TIMEOUT: Final = 5.0
