# Runs on MicroPython: the simulated hardware (sim/i2c.py, onewire,
# ds18x20, machine.ADC/Pin/PWM). micropython mp_hardware.py TEST
# (MICROPYPATH: .frozen, micropython/ and micropython/sim; MICROHOME_STATE: a scratch dir).
# The hardware is always the simulation, driven through hw.json as a node's is; only
# publish_state, the drivers' seam to MQTT, is a stand-in that records what would be sent.
# Prints "ok TEST" at the end; a failed check raises.
import asyncio
import errno
import json
import sys
import time

import ds18x20
import machine
import onewire
from home.log import Log

STATE = machine._STATE
BUS = {"sda": 4, "scl": 5, "freq": 100000}


class Home:
    def __init__(self):
        self.log = Log()
        self.log.level = 0  # keep D lines too
        self.states = []

    async def publish_state(self, sid, state):
        self.states.append((sid, dict(state)))

    def logged(self, lvl, text):
        return [e for e in self.log.entries if e[2] == lvl and text in e[4]]


def set_hw(data):
    with open(STATE + "/hw.json", "w") as f:
        json.dump(data, f)


def hw_out():
    with open(STATE + "/hw_out.json") as f:
        return json.load(f)


def i2c_hw(devices, **bus):
    entry = dict(bus)
    entry.update(devices)
    return {"i2c": {"4,5": entry}}


def close(a, b, tol):
    return abs(a - b) <= tol


def check(ok, what):
    if not ok:
        raise AssertionError(what)


async def until(f, what, timeout_ms=15000):
    start = time.ticks_ms()
    while True:
        got = f()
        if got:
            return got
        if time.ticks_diff(time.ticks_ms(), start) > timeout_ms:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep_ms(10)


def i2c_spec(sid, kind, address, **more):
    spec = {"id": sid, "type": kind, "bus": BUS, "address": address, "interval": 30}
    spec.update(more)
    return spec


def rom_code(serial):
    """A DS18B20 ROM code: family 0x28, 6 serial bytes, Dallas CRC-8 (computed here, not by
    the simulation)."""
    data = bytes([0x28]) + serial
    crc = 0
    for byte in data:
        bits = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if (crc ^ bits) & 1 else crc >> 1
            bits >>= 1
    return "".join(f"{b:02x}" for b in data + bytes([crc]))


ROMS = [rom_code(bytes([0xFF, 0x64, 0x1E, 0x82, 0x16, n])) for n in range(1, 5)]


# --- the simulated hardware ---------------------------------------------------------------


async def test_i2c_sim_scan_and_nack():
    set_hw(
        i2c_hw(
            {
                "0x38": {"chip": "aht20"},
                "0x76": {"chip": "bme280"},
                "0x23": {"chip": "bh1750", "absent": True},
            }
        )
    )
    i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5), freq=100000)
    check(i2c.scan() == [0x38, 0x76], f"scan: {i2c.scan()!r}")
    soft = machine.SoftI2C(machine.Pin(5), machine.Pin(4))
    check(soft.scan() == [0x38, 0x76], "SoftI2C scan")
    expected = errno.EIO if machine.SIM_PLATFORM == "rp2" else errno.ENODEV
    for addr in (0x23, 0x40):
        try:
            i2c.readfrom(addr, 1)
            raise AssertionError(f"no NACK at 0x{addr:02x}")
        except OSError as e:
            check(e.args[0] == expected, f"NACK errno {e.args!r} on {machine.SIM_PLATFORM}")
    check(i2c.readfrom_mem(0x76, 0xD0, 1) == b"\x60", "BME280 chip id")
    other = machine.I2C(1, sda=machine.Pin(6), scl=machine.Pin(7))
    check(other.scan() == [], "another bus has its own devices")


async def test_i2c_sim_stuck_bus():
    set_hw(i2c_hw({"0x44": {"chip": "sht3x"}}, stuck=1))
    i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5))
    for op in (lambda: i2c.writeto(0x44, b"\x24\x00"), lambda: i2c.readfrom(0x44, 6), i2c.scan):
        try:
            op()
            raise AssertionError("a stuck bus answered")
        except OSError as e:
            check(e.args[0] == errno.ETIMEDOUT, f"stuck: {e.args!r}")
    sda = machine.Pin(4, machine.Pin.IN)
    scl = machine.Pin(5, machine.Pin.OUT, value=1)
    check(sda.value() == 0, "SDA held low")
    for n in range(9):
        check(sda.value() == 0, f"released early, after {n} clocks")
        scl.value(0)
        scl.value(1)
    check(sda.value() == 1, "SDA released after 9 clocks")
    check(i2c.scan() == [0x44], "bus works again")
    set_hw(i2c_hw({"0x44": {"chip": "sht3x"}}, stuck=2))
    check(sda.value() == 0, "a new hang holds SDA again")


async def test_onewire_sim():
    set_hw({"onewire": {"22": {ROMS[0]: {"temperature": -10.125}, ROMS[1]: {"temperature": 55.5}}}})
    ow = onewire.OneWire(machine.Pin(22))
    ds = ds18x20.DS18X20(ow)
    roms = ds.scan()
    check(["".join(f"{b:02x}" for b in r) for r in roms] == ROMS[:2], f"scan {roms!r}")
    for rom in roms:
        check(rom[0] == 0x28 and ow.crc8(rom) == 0, "family code and ROM CRC")
    check(ds.read_temp(roms[0]) == 85.0, "power-on scratchpad reads 85 C")
    ds.convert_temp()
    check(ds.read_temp(roms[0]) == 85.0, "conversion not done yet")
    time.sleep_ms(760)
    check(ds.read_temp(roms[0]) == -10.125, f"negative temperature {ds.read_temp(roms[0])!r}")
    check(ds.read_temp(roms[1]) == 55.5, "second probe")
    set_hw(
        {
            "onewire": {
                "22": {ROMS[0]: {"temperature": 1, "bad_crc": True}, ROMS[1]: {"absent": True}}
            }
        }
    )
    check(len(ds.scan()) == 1, "an absent probe is not found")
    for rom in roms:
        try:
            ds.read_temp(rom)
            raise AssertionError("a bad scratchpad was read")
        except Exception as e:
            check("CRC" in str(e), f"CRC error: {e!r}")
    set_hw({"onewire": {}})
    check(not ow.reset(), "no presence pulse on an empty bus")


async def test_adc_sim():
    set_hw({"adc": {"26": 32768, "27": 99999}})
    check(machine.ADC(machine.Pin(26)).read_u16() == 32768, "ADC value")
    check(machine.ADC(27).read_u16() == 65535, "clamped to 16 bits")
    check(machine.ADC(28).read_u16() == 0, "unconnected pin")


asyncio.run(globals()[sys.argv[1]]())
print("ok", sys.argv[1])
