# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Imported with home/pincheck.py while a configuration's pins and buses
# are checked or a bus is scanned, then dropped.
# the types on a bus -> their pin role (their table: catalogue_bus.py)
ON_BUS = {"aht20": "io", "sht3x": "io", "sht4x": "io", "bme280": "io", "bh1750": "io", "scd4x": "io", "ds18b20": "io"}
# platform -> role -> its pins, one byte each, 255 for LED; a role's pins that are
# the same as another's are the same object
_RP2_IN = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x1a\x1b\x1c\xff"
_RP2_ADC = b"\x1a\x1b\x1c"
_ESP32_IN = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\x22\x23\x24\x25\x26\x27"
_ESP32_IO = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21"
_ESP32_ADC = b"\x20\x21\x22\x23\x24\x25\x26\x27"
_UNIX_IN = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\x22\x23\x24\x25\x26\x27\xff"
_UNIX_IO = b"\x00\x01\x02\x03\x04\x05\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x15\x16\x17\x19\x1a\x1b\x20\x21\xff"
_UNIX_ADC = b"\x1a\x1b\x1c\x20\x21\x22\x23\x24\x25\x26\x27"
PINS = {
    "rp2": {"in": _RP2_IN, "io": _RP2_IN, "out": _RP2_IN, "pwm": _RP2_IN, "adc": _RP2_ADC},
    "esp32": {"in": _ESP32_IN, "io": _ESP32_IO, "out": _ESP32_IO, "pwm": _ESP32_IO, "adc": _ESP32_ADC},
    "unix": {"in": _UNIX_IN, "io": _UNIX_IO, "out": _UNIX_IO, "pwm": _UNIX_IO, "adc": _UNIX_ADC},
}
