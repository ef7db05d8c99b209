# SHT40/41/45 temperature and humidity on I2C, high precision, CRC checked.
# spec: {"id", "type": "sht4x", "bus": {"sda", "scl", "freq"} (or "sda"/"scl"/"freq"),
#        "address": int = 0x44, "interval": s}
# state: {"temperature": C, "humidity": %} or {"error": str}
from home.sensors.sht3x import SHT


class SHT4x(SHT):
    kind = "sht4x"
    command = b"\xfd"  # measure, high precision: 8.3 ms
    wait_ms = 10
    rh_offset = -6
    rh_span = 125


make = SHT4x
