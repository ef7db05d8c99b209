# Checks a whole `config/set` body (docs/protocol.md, "Configuration limits"). The checks
# (home/check.py, home/busconfig.py for devices on buses) and their tables (home/catalogue.py,
# home/config_table.py, home/catalogue_bus.py, generated from the integration's catalogue) are
# imported only while a configuration is checked, then dropped: a running node keeps `fits`
# (the `set` commands' check) and this.
import sys

from home import rare

_DROP = (
    "home.check",
    "home.catalogue",
    "home.config_table",
    "home.busconfig",
    "home.busconfig_i2c",
    "home.catalogue_bus",
    "home.board",
)


def fits(kind, value, low, high):
    """Whether value is of kind (i int, b bool, n int or float) and, if given, in low..high."""
    t = type(value)
    if kind == "b":
        return t is bool
    if not (t is int or (kind == "n" and t is float)):
        return False
    return low is None or low <= value <= high


def load_checks():
    """home.check, and whether it was loaded already (then drop_checks leaves it)."""
    kept = _DROP[0] in sys.modules
    return __import__(_DROP[0], None, None, ("run",)), kept


def drop_checks():
    rare.drop(_DROP)


def validate(cfg):
    """Every problem with the body, each starting with its field's path; [] if it is good."""
    return rare.call(_DROP, "run", cfg, fits)
