# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Kinds: i int, b bool, n number, c choice (low: the choices).
NAMES = ("dht22", "motion", "led", "status_led", "relay", "aht20", "sht3x", "sht4x", "bme280", "bh1750", "scd4x", "ds18b20")
# type -> (pin role, ((param, kind, default, low, high), ...),
#          ((set field, kind, low, high), ...), at most one per node)
TYPES = {
    "dht22": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
    "motion": ("in", (("off_delay", "i", 30, 0, 3600),), (), 0),
    "led": ("pwm", (("freq", "i", 1000, 100, 40000),), (("on", "b", None, None), ("brightness", "i", 0, 255), ("transition", "n", 0, 60)), 0),
    "status_led": ("out", (), (("on", "b", None, None),), 1),
    "relay": ("out", (("inverted", "b", False, 0, 1),), (("on", "b", None, None),), 0),
    "aht20": ("io", (("interval", "i", 30, 2, 86400), ("model", "c", "aht20", ("aht20", "aht10"), None)), (), 0),
    "sht3x": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
    "sht4x": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
    "bme280": ("io", (("interval", "i", 30, 2, 86400), ("model", "c", "bme280", ("bme280", "bmp280"), None)), (), 0),
    "bh1750": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
    "scd4x": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
    "ds18b20": ("io", (("interval", "i", 30, 2, 86400),), (), 0),
}
# the types on a bus (their checks and table: home/busconfig.py, catalogue_bus.py)
ON_BUS = ("aht20", "sht3x", "sht4x", "bme280", "bh1750", "scd4x", "ds18b20")
# platform -> role -> its pins, one byte each, 255 for LED; a role's pins that are
# the same as another's are the same object
_RP2_IN = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x1a\x1b\x1c\xff"
_ESP32_IN = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\x22\x23\x24\x25\x26\x27"
_ESP32_IO = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21"
_UNIX_IN = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\x22\x23\x24\x25\x26\x27\xff"
_UNIX_IO = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\xff"
PINS = {
    "rp2": {"in": _RP2_IN, "io": _RP2_IN, "out": _RP2_IN, "pwm": _RP2_IN},
    "esp32": {"in": _ESP32_IN, "io": _ESP32_IO, "out": _ESP32_IO, "pwm": _ESP32_IO},
    "unix": {"in": _UNIX_IN, "io": _UNIX_IO, "out": _UNIX_IO, "pwm": _UNIX_IO},
}
