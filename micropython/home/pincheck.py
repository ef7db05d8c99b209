# The checks of the peripherals' pins and buses in a `config/set` body (docs/protocol.md,
# "Configuration limits"): a peripheral's own `pin`, a 1-Wire probe's `pin` and `rom`, and an
# I2C device's `bus` and `address` (home/busconfig_i2c.py, loaded only for a configuration with
# I2C devices). Imported by home/config.py's validate() after home/check.py has checked the
# rest and been dropped, and by home/scan.py; dropped after either.
from home import PLATFORM
from home.pin_table import ON_BUS, PINS

BOARD_PINS = PINS.get(PLATFORM, {})


def _pin_in(pin, role):
    """Whether the pin may take role here (the table lists GPIO numbers; 255 stands for LED)."""
    number = 255 if pin == "LED" else pin if 0 <= pin < 255 else -1
    return number >= 0 and number in BOARD_PINS.get(role, b"")


def pin_error(kind, role, pin):
    """Why `pin` cannot serve a peripheral of type `kind` (whose pin role is `role`) on this
    platform, or None."""
    if type(pin) is not int and pin != "LED":
        return '%r is not a GPIO number or "LED"' % (pin,)
    if _pin_in(pin, role):
        return None
    if role == "adc":
        return "%s is not an analog input on %s" % (pin, PLATFORM)
    if _pin_in(pin, "in"):
        return "%s is input-only, a %s needs an output" % (pin, kind)
    return "%s is not a usable pin on %s" % (pin, PLATFORM)


def run(sensors, pins, errors):
    """Check the pins and buses of the peripherals `pins` lists (home/check.py's run), in their
    order, and insert each one's problems into errors where they belong."""
    taken = {}  # pin -> its owner: a peripheral's index, an I2C bus's (sda, scl), a 1-Wire pin
    buses = {}  # (sda, scl) -> (freq, addresses)
    roms = []
    found = []  # (where, the peripheral's problems)
    for i, kind, role, at in pins:
        sensor = sensors[i]
        path = "sensors[%d]" % i
        mine = []
        if kind in ON_BUS:
            _attach(sensor, kind, role, path, mine, taken, buses, roms)
        else:
            pin = sensor.get("pin")
            why = pin_error(kind, role, pin)
            if why:
                mine.append("%s.pin: %s" % (path, why))
            elif taken.setdefault(pin, i) != i:
                mine.append("%s.pin: %s used twice" % (path, pin))
        if mine:
            found.append((at, mine))
    for at, mine in reversed(found):  # from the last, so the earlier places stay where they are
        for k, error in enumerate(mine):
            errors.insert(at + k, error)


def _attach(sensor, kind, role, path, errors, taken, buses, roms):
    from home.catalogue_bus import ADDRESSES

    addresses = ADDRESSES[kind]
    if addresses:
        from home.busconfig_i2c import check_i2c

        check_i2c(sensor, kind, role, addresses, path, errors, taken, buses)
    else:
        _onewire(sensor, kind, role, path, errors, taken, roms)


def take(taken, pin, owner, where, errors):
    if taken.setdefault(pin, owner) != owner:
        errors.append("%s: %s used twice" % (where, pin))


def _onewire(sensor, kind, role, path, errors, taken, roms):
    """The `pin` and `rom` of a probe on a 1-Wire bus (probes share their bus's pin)."""
    pin = sensor.get("pin")
    why = pin_error(kind, role, pin)
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


def scan_error(bus, spec):
    """Why the pins of spec cannot be scanned as a `bus` ("onewire": its `pin`, "i2c": its
    `bus`) for home/scan.py, or None: the checks of a ds18b20's or an aht20's."""
    if bus == "onewire":
        return pin_error("ds18b20", ON_BUS["ds18b20"], spec.get("pin"))
    from home.busconfig_i2c import check_i2c

    errors = []
    check_i2c(spec, "aht20", ON_BUS["aht20"], b"\x38", "scan", errors, {}, {})
    return errors[0] if errors else None
