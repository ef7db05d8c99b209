# The checks of a device on an I2C bus in a `config/set` body (docs/protocol.md,
# "Configuration limits"): its `bus` and `address`. Imported by home/pincheck.py only while it
# checks a configuration that has such devices, or the pins of an I2C bus to scan.
from home import PLATFORM
from home.catalogue_bus import I2C, RP2_I2C
from home.int_field import int_field
from home.pincheck import pin_error, take


def _controller(sda):
    """rp2: the I2C controller whose SDA pin sda is, or None; elsewhere 0."""
    if PLATFORM != "rp2":
        return 0
    for n in (0, 1):
        if type(sda) is int and 0 <= sda < 255 and sda in RP2_I2C[2 * n]:
            return n
    return None


def check_i2c(sensor, kind, role, addresses, path, errors, taken, buses):
    """The `bus` and `address` of a device on an I2C bus (docs/protocol.md)."""
    bus = sensor.get("bus")
    if type(bus) is not dict:
        errors.append(path + ".bus: expected an object")
        return
    n = len(errors)
    for line in ("sda", "scl"):
        why = pin_error(kind, role, bus.get(line))
        if why:
            errors.append("%s.bus.%s: %s" % (path, line, why))
    if "freq" not in bus:
        bus["freq"] = I2C[2]
    int_field(bus, "freq", I2C[0], I2C[1], errors, path + ".bus.")
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
    take(taken, sda, owner, path + ".bus.sda", errors)
    take(taken, scl, owner, path + ".bus.scl", errors)
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
