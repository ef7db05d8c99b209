# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Imported with home/check.py while a configuration is checked, then
# dropped. Kinds: i int, b bool (T, F), n number, c choice (low: the choices, /).
# type -> (params as `param kind default low high` rows joined by `;`, pairs of
#          params that must differ as `param param` rows): strings, not tuples of
#          names, so that dropping the table leaves no interned names behind
PARAMS = dict(
    dht22=("interval i 30 2 86400", ""),
    motion=("off_delay i 30 0 3600", ""),
    led=("freq i 1000 100 40000", ""),
    status_led=("", ""),
    relay=("inverted b F 0 1;max_on i 0 0 86400", ""),
    binary_input=("pull c none none/up/down 1;inverted b F 0 1;debounce_ms i 50 5 1000;events b F 0 1;long_ms i 1000 200 10000;double_ms i 400 100 2000", ""),
    pwm_output=("freq i 1000 100 40000", ""),
    adc=("interval i 30 2 86400;volts1 n 0.0 -1000000 1000000;value1 n 0.0 -1000000 1000000;volts2 n 3.3 -1000000 1000000;value2 n 3.3 -1000000 1000000", "volts1 volts2"),
    aht20=("interval i 30 2 86400;model c aht20 aht20/aht10 1", ""),
    sht3x=("interval i 30 2 86400", ""),
    sht4x=("interval i 30 2 86400", ""),
    bme280=("interval i 30 2 86400;model c bme280 bme280/bmp280 1", ""),
    bh1750=("interval i 30 2 86400", ""),
    scd4x=("interval i 30 2 86400", ""),
    ds18b20=("interval i 30 2 86400", ""),
)
# the types on a bus (their checks and table: home/busconfig.py, catalogue_bus.py)
ON_BUS = ("aht20", "sht3x", "sht4x", "bme280", "bh1750", "scd4x", "ds18b20")
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
