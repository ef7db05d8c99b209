# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. A running node keeps NAMES (home/node.py); TYPES is loaded while a
# configuration is checked, with home/config_table.py.
NAMES = ("dht22", "motion", "led", "status_led", "relay", "binary_input", "pwm_output", "adc", "aht20", "sht3x", "sht4x", "bme280", "bh1750", "scd4x", "ds18b20")
# type -> (pin role, at most one per node)
TYPES = {
    "dht22": ("io", 0),
    "motion": ("in", 0),
    "led": ("pwm", 0),
    "status_led": ("out", 1),
    "relay": ("out", 0),
    "binary_input": ("in", 0),
    "pwm_output": ("pwm", 0),
    "adc": ("adc", 0),
    "aht20": ("io", 0),
    "sht3x": ("io", 0),
    "sht4x": ("io", 0),
    "bme280": ("io", 0),
    "bh1750": ("io", 0),
    "scd4x": ("io", 0),
    "ds18b20": ("io", 0),
}
