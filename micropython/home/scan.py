# The `scan` command (docs/protocol.md): what answers on a bus, for the options flow to offer.
# {"cmd": "scan", "bus": "onewire", "pin": 22} -> found: the ROM codes (hex) with valid CRCs
# {"cmd": "scan", "bus": "i2c", "sda": 4, "scl": 5, "freq": 100000} -> found: the addresses
# Imported for a scan only; a pin another peripheral holds is refused. The pins are checked as
# a configuration's are (home/pincheck.py, loaded for the check and dropped after it).
from home import rare
from home.config import PIN_CHECKS


def _held(home, pins, kind):
    """Whether a running peripheral holds one of pins, other than as the same bus."""
    for sensor in home.sensors.values():
        spec = sensor.spec
        bus = spec.get("bus")
        if type(bus) is dict:
            mine = (bus["sda"], bus["scl"])
            if kind == "i2c" and mine == pins:
                continue
        else:
            mine = (spec.get("pin"),)
            if kind == "onewire" and spec["type"] == "ds18b20":
                continue
        for pin in pins:
            if pin in mine:
                return True
    return False


def scan(home, cmd):
    """A list of what was found, or an error string for `reply`."""
    kind = cmd.get("bus")
    if kind == "onewire":
        pin = cmd.get("pin")
        if rare.call(PIN_CHECKS, "scan_error", kind, cmd):
            return "bad value: pin"
        if _held(home, (pin,), kind):
            return "pin in use"
        from home.sensors.ds18b20 import scan as find

        return find(pin)
    if kind != "i2c":
        return "bad value: bus"
    spec = {"bus": {"sda": cmd.get("sda"), "scl": cmd.get("scl"), "freq": cmd.get("freq", 100000)}}
    error = rare.call(PIN_CHECKS, "scan_error", kind, spec)
    if error:
        return error
    sda, scl = spec["bus"]["sda"], spec["bus"]["scl"]
    if _held(home, (sda, scl), kind):
        return "pin in use"
    from home import bus

    opened = bus.get(home, spec)
    try:
        return sorted(opened.i2c.scan())
    finally:
        opened.release()
