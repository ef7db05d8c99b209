# The `scan` command (docs/protocol.md): what answers on a bus, for the options flow to offer.
# {"cmd": "scan", "bus": "onewire", "pin": 22} -> found: the ROM codes (hex) with valid CRCs
# {"cmd": "scan", "bus": "i2c", "sda": 4, "scl": 5, "freq": 100000} -> found: the addresses
# Imported for a scan only; a pin another peripheral holds is refused.
from home.config import drop_checks, load_checks


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
        check, kept = load_checks()
        bad = check.pin_error(check.BOARD_PINS, "ds18b20", pin)
        if not kept:
            drop_checks()
        if bad:
            return "bad value: pin"
        if _held(home, (pin,), kind):
            return "pin in use"
        from home.sensors.ds18b20 import scan as find

        return find(pin)
    if kind != "i2c":
        return "bad value: bus"
    spec = {"bus": {"sda": cmd.get("sda"), "scl": cmd.get("scl"), "freq": cmd.get("freq", 100000)}}
    errors = []
    kept = load_checks()[1]
    from home.busconfig_i2c import check_i2c

    check_i2c(spec, "aht20", b"\x38", "scan", errors, {}, {})
    if not kept:
        drop_checks()
    if errors:
        return errors[0]
    sda, scl = spec["bus"]["sda"], spec["bus"]["scl"]
    if _held(home, (sda, scl), kind):
        return "pin in use"
    from home import bus

    opened = bus.get(home, spec)
    try:
        return sorted(opened.i2c.scan())
    finally:
        opened.release()
