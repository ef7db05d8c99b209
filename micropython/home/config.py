# Checks a whole `config/set` body (docs/protocol.md, "Configuration limits") in two phases,
# never in the heap together: home/check.py with the tables home/catalogue.py and
# home/config_table.py checks all but the peripherals' pins and buses, then home/pincheck.py
# with home/pin_table.py (and home/busconfig_i2c.py, home/catalogue_bus.py for devices on
# buses) checks those. The tables are generated from the integration's catalogue; each phase is
# imported only while a configuration is checked, then dropped: a running node keeps `fits`
# (the `set` commands' check) and this.
from home import rare

_CHECKS = ("home.check", "home.catalogue", "home.config_table", "home.int_field")
PIN_CHECKS = (
    "home.pincheck",
    "home.pin_table",
    "home.busconfig_i2c",
    "home.catalogue_bus",
    "home.int_field",
)


def fits(kind, value, low, high):
    """Whether value is of kind (i int, b bool, n int or float) and, if given, in low..high."""
    t = type(value)
    if kind == "b":
        return t is bool
    if not (t is int or (kind == "n" and t is float)):
        return False
    return low is None or low <= value <= high


def validate(cfg):
    """Every problem with the body, each starting with its field's path; [] if it is good."""
    errors, pins = rare.call(_CHECKS, "run", cfg, fits)
    if pins:
        rare.call(PIN_CHECKS, "run", cfg["sensors"], pins, errors)
    return errors
