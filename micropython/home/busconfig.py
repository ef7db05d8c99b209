# The checks of devices on buses in a `config/set` body (docs/protocol.md, "Configuration
# limits"): a 1-Wire probe's `pin` and `rom` here, an I2C device's `bus` and `address` in
# home/busconfig_i2c.py (loaded only for a configuration with I2C devices). Imported by
# home/check.py only while it checks a configuration that has such devices.
from home.catalogue_bus import ADDRESSES
from home.check import BOARD_PINS, pin_error


def attach(sensor, kind, path, errors, taken, buses, roms):
    addresses = ADDRESSES[kind]
    if addresses:
        from home.busconfig_i2c import check_i2c

        check_i2c(sensor, kind, addresses, path, errors, taken, buses)
    else:
        _onewire(sensor, kind, path, errors, taken, roms)


def take(taken, pin, owner, where, errors):
    if taken.setdefault(pin, owner) != owner:
        errors.append("%s: %s used twice" % (where, pin))


def _onewire(sensor, kind, path, errors, taken, roms):
    """The `pin` and `rom` of a probe on a 1-Wire bus (probes share their bus's pin)."""
    pin = sensor.get("pin")
    why = pin_error(BOARD_PINS, kind, pin)
    if why:
        errors.append("%s.pin: %s" % (path, why))
    else:
        take(taken, pin, ("w", pin), path + ".pin", errors)
    rom = sensor.get("rom")
    if type(rom) is not str or len(rom) != 16 or not is_hex(rom):
        errors.append("%s.rom: %r is not a ROM code (16 hex digits)" % (path, rom))
    elif (pin, rom) in roms:
        errors.append("%s.rom: %s used twice on pin %s" % (path, rom, pin))
    else:
        roms.append((pin, rom))


def is_hex(s):
    for c in s:
        if not ("0" <= c <= "9" or "a" <= c <= "f"):
            return False
    return True
