# Checks a whole `config/set` body (docs/protocol.md, "Configuration limits") against the
# catalogue table generated from the integration's catalogue (home/catalogue.py).
from home.board import PLATFORM
from home.catalogue import BUSES, I2C, NAMES, PINS, RP2_I2C, TYPES
from home.log import LEVELS

_PINS = PINS.get(PLATFORM, {})


def is_id(s, chars, longest):
    if type(s) is not str or not 1 <= len(s) <= longest:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c in chars):
            return False
    return True


def fits(kind, value, low, high):
    """Whether value is of kind (i int, b bool, n int or float) and, if given, in low..high."""
    t = type(value)
    if kind == "b":
        return t is bool
    if not (t is int or (kind == "n" and t is float)):
        return False
    return low is None or low <= value <= high


def _pin_in(pin, role):
    """Whether the pin may take role here (the table lists GPIO numbers; 255 stands for LED)."""
    number = 255 if pin == "LED" else pin if 0 <= pin < 255 else -1
    return number >= 0 and number in _PINS.get(role, b"")


def pin_error(kind, pin):
    """Why `pin` cannot serve a peripheral of type `kind` on this platform, or None."""
    if type(pin) is not int and pin != "LED":
        return '%r is not a GPIO number or "LED"' % (pin,)
    if _pin_in(pin, TYPES[kind][0]):
        return None
    if _pin_in(pin, "in"):
        return "%s is input-only, a %s needs an output" % (pin, kind)
    return "%s is not a usable pin on %s" % (pin, PLATFORM)


def _int(cfg, name, low, high, errors, path=""):
    if name not in cfg:
        errors.append("%s%s: missing" % (path, name))
        return
    value = cfg[name]
    if type(value) is not int:
        errors.append("%s%s: expected int, got %r" % (path, name, value))
    elif not low <= value <= high:
        errors.append("%s%s: %d is not in %d-%d" % (path, name, value, low, high))


def _params(spec, params, path, errors):
    """Check the peripheral's parameters; a missing one gets its default."""
    for name, kind, default, low, high in params:
        if name not in spec:
            spec[name] = default
        if kind == "i":
            _int(spec, name, low, high, errors, path + ".")
        elif kind == "c":  # low: the choices
            if type(spec[name]) is not str or spec[name] not in low:
                errors.append("%s.%s: %r is not one of %s" % (path, name, spec[name], ", ".join(low)))
        elif not fits(kind, spec[name], low, high):
            errors.append("%s.%s: expected bool, got %r" % (path, name, spec[name]))


def _take(taken, pin, owner, where, errors):
    if taken.setdefault(pin, owner) != owner:
        errors.append("%s: %s used twice" % (where, pin))


def _controller(sda):
    """rp2: the I2C controller whose SDA pin sda is, or None; elsewhere 0."""
    if PLATFORM != "rp2":
        return 0
    for n in (0, 1):
        if type(sda) is int and 0 <= sda < 255 and sda in RP2_I2C[2 * n]:
            return n
    return None


def _i2c(sensor, kind, addresses, path, errors, taken, buses):
    """The `bus` and `address` of a device on an I2C bus (docs/protocol.md)."""
    bus = sensor.get("bus")
    if type(bus) is not dict:
        errors.append(path + ".bus: expected an object")
        return
    n = len(errors)
    for line in ("sda", "scl"):
        why = pin_error(kind, bus.get(line))
        if why:
            errors.append("%s.bus.%s: %s" % (path, line, why))
    if "freq" not in bus:
        bus["freq"] = I2C[2]
    _int(bus, "freq", I2C[0], I2C[1], errors, path + ".bus.")
    if len(errors) > n:
        return
    sda, scl, freq = bus["sda"], bus["scl"], bus["freq"]
    ctl = _controller(sda)
    if PLATFORM != "rp2":
        if sda == scl:
            errors.append("%s.bus.scl: %s is also SDA" % (path, scl))
            return
    elif ctl is None:
        errors.append("%s.bus.sda: %s is not an I2C SDA pin on rp2" % (path, sda))
        return
    elif type(scl) is not int or not 0 <= scl < 255 or scl not in RP2_I2C[2 * ctl + 1]:
        errors.append("%s.bus.scl: %s is not an SCL pin of I2C%d (SDA %d)" % (path, scl, ctl, sda))
        return
    on = "the bus on SDA %d SCL %d" % (sda, scl)
    known = buses.get((sda, scl))
    if known is None:
        if len(buses) >= I2C[3]:
            errors.append("%s.bus: a third I2C bus (at most %d)" % (path, I2C[3]))
            return
        if PLATFORM == "rp2":
            for other in buses:
                if _controller(other[0]) == ctl:
                    errors.append(
                        "%s.bus: I2C%d already runs the bus on SDA %d SCL %d"
                        % (path, ctl, other[0], other[1])
                    )
                    return
        known = buses[(sda, scl)] = (freq, [])
    elif known[0] != freq:
        errors.append("%s.bus.freq: %d differs from %d of %s" % (path, freq, known[0], on))
    owner = (sda, scl)
    _take(taken, sda, owner, path + ".bus.sda", errors)
    _take(taken, scl, owner, path + ".bus.scl", errors)
    if "address" not in sensor:
        sensor["address"] = addresses[0]
    address = sensor["address"]
    if type(address) is not int or not 0 <= address < 128 or address not in addresses:
        errors.append(
            "%s.address: %r is not one of %s"
            % (path, address, ", ".join("0x%02x" % a for a in addresses))
        )
    elif address in known[1]:
        errors.append("%s.address: 0x%02x used twice on %s" % (path, address, on))
    else:
        known[1].append(address)


def _onewire(sensor, kind, path, errors, taken, roms):
    """The `pin` and `rom` of a probe on a 1-Wire bus (probes share their bus's pin)."""
    pin = sensor.get("pin")
    why = pin_error(kind, pin)
    if why:
        errors.append("%s.pin: %s" % (path, why))
    else:
        _take(taken, pin, ("w", pin), path + ".pin", errors)
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


def validate(cfg):
    """Every problem with the body, each starting with its field's path; [] if it is good."""
    if type(cfg) is not dict:
        return ["config: expected an object"]
    errors = []
    _int(cfg, "n", 0, 1 << 62, errors)
    _int(cfg, "version", 0, 1 << 62, errors)
    _int(cfg, "telemetry_interval", 5, 86400, errors)
    name = cfg.get("name")
    if type(name) is not str:
        errors.append("name: expected str, got %r" % (name,))
    elif len(name) > 32:
        errors.append("name: longer than 32 characters")
    level = cfg.get("log_level")
    if type(level) is not str or len(level) != 1 or level not in LEVELS:
        errors.append("log_level: %r is not one of %s" % (level, " ".join(LEVELS)))
    sensors = cfg.get("sensors")
    if type(sensors) is not list:
        errors.append("sensors: expected a list")
        return errors
    if len(sensors) > 16:
        errors.append("sensors: more than 16")
    ids = []
    taken = {}  # pin -> its owner: a peripheral's index, an I2C bus's (sda, scl), a 1-Wire pin
    buses = {}  # (sda, scl) -> (freq, addresses)
    roms = []
    singles = []
    for i, sensor in enumerate(sensors):
        path = "sensors[%d]" % i
        if type(sensor) is not dict:
            errors.append(path + ": expected an object")
            continue
        sid = sensor.get("id")
        if not is_id(sid, "_", 16):
            errors.append("%s.id: %r is not a sensor id ([a-z0-9_]{1,16})" % (path, sid))
        elif sid in ids:
            errors.append("%s.id: %s used twice" % (path, sid))
        else:
            ids.append(sid)
        kind = sensor.get("type")
        entry = TYPES.get(kind) if type(kind) is str else None
        if not entry:
            errors.append("%s.type: %r is not one of %s" % (path, kind, ", ".join(NAMES)))
            continue
        if entry[3]:
            if kind in singles:
                errors.append("%s.type: only one %s" % (path, kind))
            singles.append(kind)
        bus = BUSES.get(kind)
        if bus is None:
            pin = sensor.get("pin")
            why = pin_error(kind, pin)
            if why:
                errors.append("%s.pin: %s" % (path, why))
            else:
                _take(taken, pin, i, path + ".pin", errors)
        elif bus[0] == "i2c":
            _i2c(sensor, kind, bus[1], path, errors, taken, buses)
        else:
            _onewire(sensor, kind, path, errors, taken, roms)
        _params(sensor, entry[1], path, errors)
    return errors
