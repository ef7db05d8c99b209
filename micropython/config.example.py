# Copy to config.py on the board (`microhome flash` writes it for you).

# Wi-Fi network to join.
WIFI_SSID = "my-network"
WIFI_PASSWORD = "secret"

# MQTT broker: the one Home Assistant's MQTT integration uses.
MQTT_HOST = "192.168.1.2"
MQTT_PORT = 1883
MQTT_USER = None  # or "user"
MQTT_PASSWORD = None  # or "password"
MQTT_KEEPALIVE = 30  # seconds; optional
# TLS to the broker (optional; `microhome flash --mqtt-tls --ca FILE` writes these and copies
# the CA certificate to the board). With MQTT_TLS the node talks only TLS, usually on port 8883,
# and refuses a broker whose certificate does not chain to MQTT_CA, has expired or does not
# name MQTT_SERVER_NAME; it logs an E line and retries, never falling back to plaintext.
MQTT_TLS = False
MQTT_CA = "ca.pem"  # the CA certificate (PEM) on the board's flash
MQTT_SERVER_NAME = None  # the name the broker's certificate must carry; None: MQTT_HOST
# With MQTT_TLS a board sets its clock over NTP before the first handshake (certificate dates).
NTP_HOST = None  # None: ntptime's default server; or your router, e.g. "192.168.1.1"

# Node id, [a-z0-9_-]{1,32}. None: "mh-" + the last 3 bytes of machine.unique_id().
NODE_ID = None
# Name shown in Home Assistant until a configuration with a name arrives. None: the node id.
NODE_NAME = None

# This node's key: 64 hex characters, HMAC-SHA256(fleet key, node id). Never the fleet key.
NODE_KEY = "0000000000000000000000000000000000000000000000000000000000000000"
