# Simulated I2C for the unix port: machine.I2C / SoftI2C return a Bus of this module. The chips
# are register-level models configured in hw.json under "i2c", keyed by the bus's "SDA,SCL" pins
# and each device's address:
#   {"i2c": {"4,5": {"0x38": {"chip": "aht20", "temperature": 21.5, "humidity": 40}}}}
# Faults: a device that is missing or says "absent": true NACKs (OSError EIO on rp2, ENODEV on
# esp32, as the boards raise) and forgets its state, as a chip unplugged; "bad_crc": N corrupts the CRC of its next N replies (true: all);
# a bus with "stuck": TOKEN has SDA held low: every transfer fails with ETIMEDOUT until SCL is
# clocked 9 times through machine.Pin, which releases it (for that TOKEN; a new one hangs again;
# "release_after": N asks for N clocks instead, more than a driver gives: a bus that stays hung).
# The chip models are in i2c_aht, i2c_sensirion, i2c_bosch and i2c_bh1750, each imported when a
# bus first has such a chip (a sim node's heap holds the models it uses, as a board's holds none).
import errno
import time

import machine

NACK = errno.EIO if machine.SIM_PLATFORM == "rp2" else errno.ENODEV
_RELEASE_CLOCKS = 9
_chips = {}  # (bus key, address) -> chip model, kept across Bus objects (a re-init)
_bus_pins = {}  # pin name -> the Bus whose SDA or SCL it is
_released = set()  # (bus key, stuck token) released by clocking SCL
_clocks = {}  # bus key -> SCL falling edges seen while stuck


def now():
    return time.ticks_ms()


def ready(at):
    return time.ticks_diff(now(), at) >= 0


def nack():
    raise OSError(NACK)


def crc(data):
    """Sensirion / Aosong CRC-8: polynomial 0x31, initial 0xFF."""
    value = 0xFF
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value << 1) ^ 0x31 if value & 0x80 else value << 1
        value &= 0xFF
    return value


def u16(value):
    return min(max(int(value + 0.5), 0), 0xFFFF)


class Chip:
    name = ""

    def __init__(self):
        self.replies = 0

    def corrupt(self, cfg):
        """Whether this reply's CRC is to be wrong (hw.json "bad_crc")."""
        bad = cfg.get("bad_crc")
        self.replies += 1
        return bad is True or (type(bad) is int and self.replies <= bad)

    def words(self, cfg, words):
        """Big-endian 16-bit words, each followed by its CRC (the first made wrong on demand)."""
        out = bytearray()
        for word in words:
            pair = bytes(((word >> 8) & 0xFF, word & 0xFF))
            out += pair
            out.append(crc(pair))
        if self.corrupt(cfg):
            out[2] ^= 0xFF
        return bytes(out)


# chip -> (module, class, arguments): a model's module is imported when a bus first has one
_MODELS = {
    "aht20": ("i2c_aht", "AHT", ()),
    "aht10": ("i2c_aht", "AHT", (True,)),
    "sht3x": ("i2c_sensirion", "SHT3x", ()),
    "sht4x": ("i2c_sensirion", "SHT4x", ()),
    "scd4x": ("i2c_sensirion", "SCD4x", ()),
    "bme280": ("i2c_bosch", "BME280", ()),
    "bmp280": ("i2c_bosch", "BME280", (True,)),
    "bh1750": ("i2c_bh1750", "BH1750", ()),
}


_plain_value = machine.Pin.value


def _value(pin, v=None):
    """Pin.value, for the pins of a bus as the bus sees them (SDA held low while stuck, SCL
    clocks counted): machine.Pin pays for this only once a bus exists."""
    bus = _bus_pins.get(pin.name)
    if bus is not None:
        if v is not None:
            bus.drive(pin.name, 1 if v else 0)
        elif pin.mode != machine.Pin.OUT:
            return bus.level(pin.name)
    return _plain_value(pin, v)


machine.Pin.value = _value


def _name(pin):
    return pin.name if isinstance(pin, machine.Pin) else str(pin)


class Bus:
    """machine.I2C on simulated chips: scan, readfrom(_into), writeto, writevto, readfrom_mem
    (_into), writeto_mem."""

    def __init__(self, scl, sda, freq):
        self.scl = _name(scl)
        self.sda = _name(sda)
        self.key = self.sda + "," + self.scl
        self.freq = freq
        self.last_scl = 1
        _bus_pins[self.sda] = self
        _bus_pins[self.scl] = self

    def entry(self):
        buses = machine.hw("i2c")
        entry = buses.get(self.key) if type(buses) is dict else None
        return entry if type(entry) is dict else {}

    def stuck(self, entry=None):
        token = (entry or self.entry()).get("stuck")
        return bool(token) and (self.key, token) not in _released

    # the pins, as machine.Pin sees them while a driver recovers the bus
    def level(self, name):
        return 0 if name == self.sda and self.stuck() else 1

    def drive(self, name, v):
        if name != self.scl:
            return
        if self.last_scl and not v and self.stuck():
            _clocks[self.key] = _clocks.get(self.key, 0) + 1
            if _clocks[self.key] >= self.entry().get("release_after", _RELEASE_CLOCKS):
                _released.add((self.key, self.entry().get("stuck")))
                _clocks[self.key] = 0
        self.last_scl = v

    def chip(self, addr):
        entry = self.entry()
        if self.stuck(entry):
            raise OSError(errno.ETIMEDOUT)
        cfg = entry.get("0x%02x" % addr)
        if type(cfg) is not dict or cfg.get("absent") or cfg.get("chip") not in _MODELS:
            _chips.pop((self.key, addr), None)  # unplugged: it comes back powered up afresh
            nack()
        chip = _chips.get((self.key, addr))
        if chip is None or chip.name != cfg["chip"]:
            module, name, args = _MODELS[cfg["chip"]]
            model = getattr(__import__(module), name)
            chip = _chips[(self.key, addr)] = model(*args)
        return chip, cfg

    def scan(self):
        entry = self.entry()
        if self.stuck(entry):
            raise OSError(errno.ETIMEDOUT)
        found = []
        for key, cfg in entry.items():
            if key.startswith("0x") and type(cfg) is dict and not cfg.get("absent"):
                found.append(int(key, 16))
        return sorted(found)

    def writeto(self, addr, buf, stop=True):
        chip, cfg = self.chip(addr)
        chip.write(bytes(buf), cfg)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(b) for b in vector), stop)

    def readfrom(self, addr, n, stop=True):
        chip, cfg = self.chip(addr)
        data = chip.read(n, cfg)
        return data + b"\xff" * (n - len(data))  # past the chip's reply the bus reads high

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self.readfrom(addr, len(buf), stop)

    def readfrom_mem(self, addr, memaddr, n, addrsize=8):
        self.writeto(addr, bytes((memaddr,)), False)
        return self.readfrom(addr, n)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self.writeto(addr, bytes((memaddr,)) + bytes(buf))
