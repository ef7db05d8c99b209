# I2C buses, shared by the drivers of the devices on them: one machine.I2C per SDA/SCL pair
# (at the frequency of its first user), recovered when a device holds SDA low; the CRC-8 of
# Sensirion and Aosong chips.
import errno
import time

import machine
from machine import Pin
from micropython import const

from home import PLATFORM
from home.poll import CRCError, Polled

_CLOCKS = const(16)  # SCL pulses to free a slave stuck mid-byte (9 suffice)
_buses = {}  # (sda, scl) -> I2CBus


def crc8(buf, start, end):
    """CRC-8, polynomial 0x31, initial 0xFF, over buf[start:end]."""
    crc = 0xFF
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def check_words(buf, words):
    """Raise CRCError unless each of the first `words` 16-bit words (+ CRC) in buf checks."""
    for i in range(0, 3 * words, 3):
        if crc8(buf, i, i + 2) != buf[i + 2]:
            raise CRCError


def word(buf, i):
    """The i-th 16-bit word of a reply of words with CRCs."""
    return (buf[3 * i] << 8) | buf[3 * i + 1]


def pins(spec):
    """(sda, scl, freq) of a spec's bus: {"bus": {"sda", "scl", "freq"}} or "sda"/"scl"."""
    bus = spec.get("bus") or spec
    return bus["sda"], bus["scl"], bus.get("freq") or 100000


def get(home, spec):
    """The bus a spec's device is on, opened by its first user."""
    sda, scl, freq = pins(spec)
    bus = _buses.get((sda, scl))
    if bus is None:
        bus = _buses[(sda, scl)] = I2CBus(home, sda, scl, freq)
    bus.users += 1
    return bus


class I2CBus:
    def __init__(self, home, sda, scl, freq):
        self.sda = sda
        self.scl = scl
        self.freq = freq
        self.users = 0
        self.log = home.log.src("i2c")
        used = [b.hw_id for b in _buses.values()]
        # rp2: the pins decide the controller; esp32: either controller takes any pins
        self.hw_id = (sda >> 1) & 1 if PLATFORM == "rp2" else (1 if 0 in used else 0)
        self.i2c = None
        self.open()

    def open(self):
        self.i2c = machine.I2C(self.hw_id, sda=Pin(self.sda), scl=Pin(self.scl), freq=self.freq)

    def release(self):
        """A driver is done with the bus; the last one closes it."""
        self.users -= 1
        if self.users <= 0:
            _buses.pop((self.sda, self.scl), None)
            self.i2c = None

    def recover(self):
        """Clock SCL until the device holding SDA low lets go, send a STOP, re-open the bus."""
        scl = Pin(self.scl, Pin.OUT, value=1)
        sda = Pin(self.sda, Pin.IN, Pin.PULL_UP)
        clocks = 0
        while not sda.value() and clocks < _CLOCKS:
            scl.value(0)
            time.sleep_us(5)
            scl.value(1)
            time.sleep_us(5)
            clocks += 1
        released = sda.value()
        sda = Pin(self.sda, Pin.OUT, value=0)  # STOP: SDA rises while SCL is high
        time.sleep_us(5)
        sda.value(1)
        self.open()
        what = "released after" if released else "SDA still low after"
        self.log(
            "W" if released else "E",
            "bus SDA %d SCL %d stuck: %s %d clocks" % (self.sda, self.scl, what, clocks),
        )
        return released

    def _do(self, method, addr, a, b=None):
        """One transfer; a hung bus is recovered and the transfer tried once more."""
        for again in (False, True):
            call = getattr(self.i2c, method)
            try:
                return call(addr, a) if b is None else call(addr, a, b)
            except OSError as e:
                if again or not e.args or e.args[0] != errno.ETIMEDOUT or not self.recover():
                    raise

    def write(self, addr, buf):
        self._do("writeto", addr, buf)

    def readinto(self, addr, buf):
        self._do("readfrom_into", addr, buf)

    def read_reg(self, addr, reg, buf):
        self._do("readfrom_mem_into", addr, reg, buf)

    def write_reg(self, addr, reg, buf):
        self._do("writeto_mem", addr, reg, buf)


class I2CSensor(Polled):
    """A polled sensor at an address on a shared bus, with a reply buffer of `size` bytes and,
    for a type with a shorter reply too, `head`: a view of its first `short` bytes."""

    address = 0
    size = 0
    short = 0

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.addr = spec.get("address") or self.address
        self.where = "at 0x%02x" % self.addr
        self.buf = bytearray(self.size)
        if self.short:
            self.head = memoryview(self.buf)[: self.short]
        self.bus = get(home, spec)

    def close(self):
        self.bus.release()
