# Runs on MicroPython: the peripheral drivers on the simulated hardware (sim/i2c.py, onewire,
# ds18x20, machine.ADC/Pin/PWM). micropython mp_hardware.py TEST
# (MICROPYPATH: .frozen, micropython/ and micropython/sim; MICROHOME_STATE: a scratch dir).
# The hardware is always the simulation, driven through hw.json as a node's is; only
# publish_state, the drivers' seam to MQTT, is a stand-in that records what would be sent.
# Prints "ok TEST" at the end; a failed check raises.
import asyncio
import errno
import gc
import io
import json
import os
import sys
import time

import ds18x20
import machine
import onewire
from home import bus, sensors
from home.filter import Filtered
from home.log import Log
from home.sensors import ds18b20

STATE = machine._STATE
BUS = {"sda": 4, "scl": 5, "freq": 100000}


class Home:
    def __init__(self):
        self.log = Log()
        self.log.level = 0  # keep D lines too
        self.states = []
        self.unretained = []

    async def publish_state(self, sid, state, retain=True):
        self.states.append((sid, dict(state)))
        if not retain:
            self.unretained.append((sid, dict(state)))

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


def driver(home, spec):
    return sensors.make(home, spec)


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


# --- the I2C drivers -------------------------------------------------------------------------


async def read_one(spec, chip, tol, **values):
    """Start the driver, take its first published state, check it against hw.json."""
    cfg = {"chip": chip}
    cfg.update(values)
    set_hw(i2c_hw({"0x{:02x}".format(spec["address"]): cfg}))
    home = Home()
    sensor = driver(home, spec)
    sensor.start()
    sid, state = (await until(lambda: home.states, "a state"))[0]
    sensor.stop()
    check(sid == spec["id"], "published under its id")
    for key, want in values.items():
        if key in ("temperature", "humidity", "pressure", "co2", "illuminance"):
            check(
                close(state[key], want, tol[key]), f"{chip} {key}: {state.get(key)!r}, not {want!r}"
            )
    return state


async def test_aht20():
    spec = i2c_spec("room", "aht20", 0x38)
    tol = {"temperature": 0.01, "humidity": 0.01}
    state = await read_one(spec, "aht20", tol, temperature=21.5, humidity=40.25)
    check(sorted(state) == ["humidity", "temperature"], f"fields {state!r}")
    await read_one(spec, "aht20", tol, temperature=-39.99, humidity=99.9)


async def test_aht10():
    spec = i2c_spec("room", "aht20", 0x38, model="aht10")
    tol = {"temperature": 0.01, "humidity": 0.01}
    await read_one(spec, "aht10", tol, temperature=18.75, humidity=61.5)


async def test_sht3x_and_sht4x():
    tol = {"temperature": 0.01, "humidity": 0.01}
    await read_one(i2c_spec("t", "sht3x", 0x44), "sht3x", tol, temperature=23.45, humidity=51.2)
    await read_one(i2c_spec("t", "sht3x", 0x45), "sht3x", tol, temperature=-12.5, humidity=3.0)
    await read_one(i2c_spec("t", "sht4x", 0x44), "sht4x", tol, temperature=30.1, humidity=72.6)


async def test_bme280_and_bmp280():
    tol = {"temperature": 0.01, "humidity": 0.05, "pressure": 0.01}
    state = await read_one(
        i2c_spec("air", "bme280", 0x76),
        "bme280",
        tol,
        temperature=22.37,
        humidity=45.5,
        pressure=1001.3,
    )
    check(sorted(state) == ["humidity", "pressure", "temperature"], f"fields {state!r}")
    await read_one(
        i2c_spec("air", "bme280", 0x77),
        "bme280",
        tol,
        temperature=-5.2,
        humidity=88.0,
        pressure=950.0,
    )
    state = await read_one(
        i2c_spec("air", "bme280", 0x76), "bmp280", tol, temperature=30.0, pressure=1040.0
    )
    check(sorted(state) == ["pressure", "temperature"], f"a BMP280 has no humidity: {state!r}")


async def test_bme280_refuses_another_chip():
    set_hw(i2c_hw({"0x76": {"chip": "sht3x"}}))
    sensor = driver(Home(), i2c_spec("air", "bme280", 0x76))
    check((await sensor.sample()) == {"error": "no answer at 0x76"}, "another chip is no BME280")
    sensor.stop()


async def test_bh1750():
    tol = {"illuminance": 0.9}
    await read_one(i2c_spec("light", "bh1750", 0x23), "bh1750", tol, illuminance=345.6)
    await read_one(i2c_spec("light", "bh1750", 0x5C), "bh1750", tol, illuminance=0.0)


async def test_scd4x():
    tol = {"co2": 0, "temperature": 0.01, "humidity": 0.01}
    spec = i2c_spec("iaq", "scd4x", 0x62)
    state = await read_one(
        spec, "scd4x", tol, co2=812, temperature=22.1, humidity=48.0, period_ms=200
    )
    check(sorted(state) == ["co2", "humidity", "temperature"], f"fields {state!r}")
    # the sensor left in periodic mode (a soft reboot): the driver stops it before starting
    home = Home()
    first = driver(home, spec)
    set_hw(i2c_hw({"0x62": {"chip": "scd4x", "co2": 1500, "period_ms": 200}}))
    check((await first.sample())["co2"] == 1500, "first reading")
    second = driver(home, spec)
    check((await second.sample())["co2"] == 1500, "a new driver over a measuring sensor")
    first.stop()
    second.stop()


# --- faults ----------------------------------------------------------------------------------


async def test_scd4x_that_vanished_is_started_again():
    devices = {"0x62": {"chip": "scd4x", "co2": 700, "period_ms": 100}}
    set_hw(i2c_hw(devices))
    home = Home()
    scd = driver(home, i2c_spec("iaq", "scd4x", 0x62))
    check((await scd.sample())["co2"] == 700, "reads")
    devices["0x62"]["absent"] = True
    set_hw(i2c_hw(devices))
    check((await scd.sample()) == {"error": "no answer at 0x62"}, "unplugged")
    devices["0x62"] = {"chip": "scd4x", "co2": 900, "period_ms": 100}
    set_hw(i2c_hw(devices))
    # back, powered up idle: without a new start_periodic_measurement it would never be ready
    check((await scd.sample())["co2"] == 900, "measuring again")
    scd.stop()


async def test_aht20_that_vanished_is_calibrated_again():
    devices = {"0x38": {"chip": "aht20", "temperature": 25, "humidity": 50}}
    set_hw(i2c_hw(devices))
    aht = driver(Home(), i2c_spec("aht", "aht20", 0x38))
    check((await aht.sample())["temperature"] == 25.0, "reads")
    devices["0x38"]["absent"] = True
    set_hw(i2c_hw(devices))
    check((await aht.sample()) == {"error": "no answer at 0x38"}, "unplugged")
    del devices["0x38"]["absent"]
    set_hw(i2c_hw(devices))
    await aht.sample()
    bus_i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5))
    check(bus_i2c.readfrom(0x38, 1)[0] & 0x08, "the driver calibrated it again")
    aht.stop()


async def test_vanished_device_reports_error_and_the_rest_runs():
    devices = {
        "0x38": {"chip": "aht20", "temperature": 20, "humidity": 50},
        "0x44": {"chip": "sht3x", "temperature": 19, "humidity": 40},
    }
    set_hw(i2c_hw(devices))
    home = Home()
    aht = driver(home, i2c_spec("aht", "aht20", 0x38, interval=1))
    sht = driver(home, i2c_spec("sht", "sht3x", 0x44, interval=1))
    aht.start()
    sht.start()
    await until(lambda: len(home.states) >= 2, "both read")
    check(close(aht.state["temperature"], 20, 0.01), "aht reads")
    devices["0x38"]["absent"] = True
    set_hw(i2c_hw(devices))
    await until(lambda: aht.state == {"error": "no answer at 0x38"}, "the error state")
    mark = len(home.states)
    await until(lambda: any(s[0] == "sht" for s in home.states[mark:]), "sht reading on")
    check(all("temperature" in s[1] for s in home.states if s[0] == "sht"), "sht unaffected")
    check(
        all(s[1] == {"error": "no answer at 0x38"} or "temperature" in s[1] for s in home.states),
        "no half state",
    )
    check(len(home.logged("W", "no reading after 3 tries: no answer at 0x38")) == 1, "logged once")
    await until(
        lambda: len([s for s in home.states if s == ("aht", {"error": "no answer at 0x38"})]) >= 2,
        "error again",
    )
    check(len(home.logged("W", "no reading")) == 1, "a lasting fault is not logged again")
    del devices["0x38"]["absent"]
    set_hw(i2c_hw(devices))
    await until(lambda: aht.state and "temperature" in aht.state, "reading again")
    check(len(home.logged("I", "reading again")) == 1, "recovery logged")
    aht.stop()
    sht.stop()


async def test_any_other_failure_is_reported_and_the_loop_goes_on():
    # a simulated chip fed something that is no number fails with ValueError, not OSError
    set_hw(i2c_hw({"0x38": {"chip": "aht20", "temperature": "hot\n<b>", "humidity": 40}}))
    home = Home()
    aht = driver(home, i2c_spec("aht", "aht20", 0x38, interval=1))
    aht.start()
    await until(lambda: home.states, "a state")
    check(home.states[0][1]["error"].startswith("read failed: ValueError"), f"{home.states}")
    set_hw(i2c_hw({"0x38": {"chip": "aht20", "temperature": 20, "humidity": 30}}))
    await until(lambda: aht.state and "temperature" in aht.state, "the loop reads on")
    aht.stop()


async def crc_case(spec, cfg, addr_key):
    home = Home()
    sensor = driver(home, spec)
    cfg["bad_crc"] = 2  # two bad replies: the third try reads
    set_hw(i2c_hw({addr_key: cfg}))
    state = await sensor.sample()
    check("error" not in state, "{}: retried past two CRC faults: {!r}".format(spec["type"], state))
    check(len(home.logged("D", "CRC check failed")) == 2, "each failed try logged at D")
    cfg["bad_crc"] = True
    set_hw(i2c_hw({addr_key: cfg}))
    state = await sensor.sample()
    check(
        state == {"error": "CRC check failed"},
        "{}: reported, not published: {!r}".format(spec["type"], state),
    )
    sensor.stop()


async def test_crc_faults_retried_then_reported():
    await crc_case(i2c_spec("a", "aht20", 0x38), {"chip": "aht20", "temperature": 20}, "0x38")
    await crc_case(i2c_spec("s", "sht3x", 0x44), {"chip": "sht3x", "temperature": 20}, "0x44")
    await crc_case(i2c_spec("s", "sht4x", 0x44), {"chip": "sht4x", "temperature": 20}, "0x44")
    await crc_case(
        i2c_spec("c", "scd4x", 0x62), {"chip": "scd4x", "co2": 600, "period_ms": 100}, "0x62"
    )


async def test_stuck_bus_recovered_without_reboot():
    devices = {
        "0x44": {"chip": "sht3x", "temperature": 21, "humidity": 40},
        "0x23": {"chip": "bh1750", "illuminance": 120},
    }
    set_hw(i2c_hw(devices))
    home = Home()
    sht = driver(home, i2c_spec("sht", "sht3x", 0x44))
    light = driver(home, i2c_spec("light", "bh1750", 0x23))
    check("temperature" in (await sht.sample()), "reads before")
    for token in (1, 2):  # hangs twice: recovered each time
        set_hw(i2c_hw(devices, stuck=token))
        state = await sht.sample()
        check(close(state.get("temperature", 0), 21, 0.01), f"read after recovery: {state!r}")
        check(
            len(home.logged("W", "bus SDA 4 SCL 5 stuck: released after 9 clocks")) == token,
            "recovery logged at W",
        )
        check(
            close((await light.sample())["illuminance"], 120, 0.9),
            "the other device on the bus too",
        )
    check(not home.logged("D", "read"), "no failed read at all")
    sht.stop()
    light.stop()


async def test_bus_that_stays_hung_reports_and_comes_back():
    devices = {"0x44": {"chip": "sht3x", "temperature": 21, "humidity": 40}}
    set_hw(i2c_hw(devices, stuck=1, release_after=1000))
    home = Home()
    sht = driver(home, i2c_spec("sht", "sht3x", 0x44))
    check((await sht.sample()) == {"error": "bus stuck"}, "a bus that stays hung")
    check(len(home.logged("E", "bus SDA 4 SCL 5 stuck: SDA still low after 16 clocks")) == 3, "E")
    check(not home.logged("W", "released"), "no recovery claimed")
    set_hw(i2c_hw(devices, stuck=1))  # the next 9 clocks free it (the device let go)
    state = await sht.sample()
    check(close(state.get("temperature", 0), 21, 0.01), f"reads again without a reboot: {state}")
    check(len(home.logged("W", "released after")) == 1, "recovery logged at W")
    sht.stop()


async def test_bus_shared_and_released():
    set_hw(i2c_hw({"0x38": {"chip": "aht20"}, "0x44": {"chip": "sht3x"}}))
    home = Home()
    a = driver(home, i2c_spec("a", "aht20", 0x38))
    b = driver(home, {"id": "b", "type": "sht3x", "sda": 4, "scl": 5, "interval": 30})
    check(a.bus is b.bus and len(bus._buses) == 1, "one bus for both")
    a.stop()
    check(len(bus._buses) == 1, "still used")
    b.stop()
    check(not bus._buses, "closed by its last user")


# --- 1-Wire ----------------------------------------------------------------------------------


async def test_ds18b20_probes_on_one_pin():
    temps = (61.25, 48.5, 12.0625, 19.75)
    probes = {rom: {"temperature": temps[i]} for i, rom in enumerate(ROMS)}
    set_hw({"onewire": {"22": probes}})
    check(ds18b20.scan(22) == ROMS, f"scan: {ds18b20.scan(22)!r}")
    check(ds18b20.scan(23) == [], "nothing on another pin")
    home = Home()
    names = ("t1", "t2", "t3", "t4")
    running = [
        driver(home, {"id": names[i], "type": "ds18b20", "pin": 22, "rom": rom, "interval": 1})
        for i, rom in enumerate(ROMS)
    ]
    for sensor in running:
        sensor.start()
    await until(lambda: all(s.state for s in running), "four readings")
    for i, sensor in enumerate(running):
        check(sensor.state == {"temperature": temps[i]}, f"{sensor.id}: {sensor.state!r}")
    probes[ROMS[2]]["absent"] = True
    set_hw({"onewire": {"22": probes}})
    check(ds18b20.scan(22) == [ROMS[0], ROMS[1], ROMS[3]], "the missing probe is not found")
    await until(
        lambda: running[2].state == {"error": "no answer from " + ROMS[2]}, "missing probe's error"
    )
    mark = len(home.states)
    await until(
        lambda: {s[0] for s in home.states[mark:]} >= {"t1", "t2", "t4"}, "the others go on"
    )
    for sid, state in home.states[mark:]:
        if sid != "t3":
            check(state == {"temperature": temps[names.index(sid)]}, f"{sid}: {state!r}")
    for sensor in running:
        sensor.stop()


async def test_ds18b20_crc_and_empty_bus():
    set_hw({"onewire": {"22": {ROMS[0]: {"temperature": 5.5, "bad_crc": 2}}}})
    home = Home()
    sensor = driver(home, {"id": "t", "type": "ds18b20", "pin": 22, "rom": ROMS[0], "interval": 30})
    check((await sensor.sample()) == {"temperature": 5.5}, "retried past two CRC faults")
    set_hw({"onewire": {"22": {ROMS[0]: {"temperature": 5.5, "bad_crc": True}}}})
    check((await sensor.sample()) == {"error": "CRC check failed"}, "a bad scratchpad is reported")
    set_hw({})
    check((await sensor.sample()) == {"error": "no answer from " + ROMS[0]}, "empty bus")
    sensor.stop()


# --- ADC, inputs, PWM --------------------------------------------------------------------------


async def test_adc_voltage_and_calibration():
    set_hw({"adc": {"26": 32768}})
    home = Home()
    plain = driver(home, {"id": "v", "type": "adc", "pin": 26, "interval": 30})
    check((await plain.sample()) == {"voltage": 1.65}, "half of 3.3 V")
    # a pressure sensor: 0.5 V is 0 bar, 2.5 V is 10 bar
    spec = {
        "id": "p",
        "type": "adc",
        "pin": 26,
        "interval": 30,
        "volts1": 0.5,
        "value1": 0,
        "volts2": 2.5,
        "value2": 10,
    }
    calibrated = driver(home, spec)
    check((await calibrated.sample()) == {"voltage": 1.65, "value": 5.75}, "two-point calibration")
    set_hw({"adc": {"26": 9930}})  # 0.5 V
    check((await calibrated.sample())["value"] == 0.0, "low point")
    spec = {
        "id": "p",
        "type": "adc",
        "pin": 26,
        "interval": 30,
        "vref": 5.0,
        "volts1": 5.0,
        "value1": -20,
        "volts2": 0.0,
        "value2": 80,
    }
    set_hw({"adc": {"26": 65535}})
    check(
        (await driver(home, spec).sample()) == {"voltage": 5.0, "value": -20.0},
        "falling line, 5 V reference",
    )


async def level(pin, value, hold_ms):
    set_hw({"pins": {str(pin): value}})
    await asyncio.sleep_ms(hold_ms)


async def test_binary_input_contact():
    set_hw({"pins": {"9": 1}})
    home = Home()
    door = driver(
        home,
        {
            "id": "door",
            "type": "binary_input",
            "pin": 9,
            "pull": "up",
            "inverted": True,
            "debounce_ms": 100,
        },
    )
    door.start()
    await until(lambda: home.states, "first state")
    check(home.states == [("door", {"on": False})], f"pulled up: closed {home.states!r}")
    await level(9, 0, 300)
    check(home.states[-1] == ("door", {"on": True}), f"opened {home.states!r}")
    await level(9, 1, 10)  # a bounce, shorter than the debounce time
    await level(9, 0, 300)
    await level(9, 1, 300)
    check(
        home.states == [("door", {"on": False}), ("door", {"on": True}), ("door", {"on": False})],
        f"bounce ignored: {home.states!r}",
    )
    door.stop()


async def test_button_press_double_long():
    set_hw({"pins": {"9": 1}})
    home = Home()
    spec = {
        "id": "btn",
        "type": "binary_input",
        "pin": 9,
        "pull": "up",
        "inverted": True,
        "debounce_ms": 50,
        "events": True,
        "long_ms": 1500,
        "double_ms": 700,
    }
    button = driver(home, spec)
    button.start()
    await until(lambda: home.states, "first state")

    def events():
        return [s[1]["event"] for s in home.states if "event" in s[1]]

    await level(9, 0, 200)  # a press
    await level(9, 1, 1500)
    check(events() == ["press"], f"press: {home.states!r}")
    await level(9, 0, 200)  # a double press
    await level(9, 1, 150)
    await level(9, 0, 200)
    await level(9, 1, 1500)
    check(events() == ["press", "double_press"], f"double press: {events()!r}")
    await level(9, 0, 2500)  # held
    check(
        events() == ["press", "double_press", "long_press"], f"long press while held: {events()!r}"
    )
    await level(9, 1, 1500)
    check(
        events() == ["press", "double_press", "long_press"],
        f"the release makes no event: {events()!r}",
    )
    check(button.state == {"on": False}, f"the retained state carries no event: {button.state!r}")
    told = [s[1]["event"] for s in home.unretained]
    check(told == events(), f"every event, and only events, not retained: {home.unretained!r}")
    button.stop()


async def test_pwm_duty_applied_at_once():
    set_hw({})
    home = Home()
    pump = driver(home, {"id": "pump", "type": "pwm_output", "pin": 14, "freq": 2000, "duty": 25})
    pump.start()
    check(hw_out()["pwm"]["14"] == {"duty_u16": 16384, "freq": 2000}, f"start duty {hw_out()!r}")
    await pump.set({"duty": 60})
    check(hw_out()["pwm"]["14"]["duty_u16"] == 39321, f"60 % at once: {hw_out()!r}")
    check(home.states == [("pump", {"duty": 60})], "state echoed")
    await pump.set({"duty": 0})
    check(hw_out()["pwm"]["14"]["duty_u16"] == 0, "off")
    await pump.set({"duty": 100})
    check(hw_out()["pwm"]["14"]["duty_u16"] == 65535, "full")
    pump.stop()
    check("14" not in hw_out()["pwm"], "released when removed")


async def test_log_ring_bounded_in_bytes_offline():
    """Long lines while nothing sends them (offline) keep about 3 KB of text in the heap (4.5 KB
    with the entries, two-byte characters and the list): the oldest go, the newest stay in
    order, and a batch of them is still valid JSON."""
    log = Log()
    log.level = 0
    hostile = "\u00e9<b>\n" * 60
    gc.collect()
    before = gc.mem_alloc()
    for i in range(400):
        log("W", "climate", f"read {i} failed: {hostile}")
    gc.collect()
    grown = gc.mem_alloc() - before
    assert grown < 4608, grown
    seqs = [e[0] for e in log.entries]
    assert seqs[-1] == 399 and seqs == list(range(seqs[0], 400)), seqs
    assert 5 < len(seqs) < 30, len(seqs)
    last = log.last = log._last()
    out = io.BytesIO()
    log.write_batch(out)
    batch = json.loads(out.getvalue())
    assert batch["entries"][0]["seq"] == seqs[0] and last >= seqs[0], batch
    for _ in range(300):  # short lines: more of them fit, never more than 100
        log("I", "x", "y")
    seqs = [e[0] for e in log.entries]
    assert 30 < len(seqs) <= 100 and seqs == list(range(700 - len(seqs), 700)), seqs


def completed(**settings):
    """One value's filter settings as home/config.py completes them."""
    full = {"window": 1, "average": "median", "raw1": 0, "ref1": 0, "raw2": 1, "ref2": 1}
    full.update({"offset": 0, "delta": 0, "heartbeat": 0})
    full.update(settings)
    return full


class Fake:
    state = None


async def test_filter_math_and_hostile_readings():
    home = Home()
    gate = Filtered(home, {"t": completed(window=4, average="mean", offset=-1)})
    gate.driver = Fake()
    for raw in (10, 20, float("nan"), 30, float("inf"), 40, -1e300):
        await gate.publish_state("x", {"t": raw})
    sent = [state["t"] for _, state in home.states]
    # mean of the last (up to) 4 finite readings, minus 1; NaN, inf and -1e300 kept out and
    # not published
    check(sent == [9.0, 14.0, 19.0, 24.0], f"mean and offset: {sent!r}")
    check(gate.driver.state == {"t": 24.0}, "the driver's state is the published one")

    home = Home()
    line = completed(raw1=0, ref1=32, raw2=100, ref2=212)  # Celsius to Fahrenheit
    gate = Filtered(home, {"t": line})
    gate.driver = Fake()
    await gate.publish_state("x", {"t": float("nan")})
    check(home.states == [], "nothing sound to say yet: nothing published")
    for raw in (-40, 37, 1e300):
        await gate.publish_state("x", {"t": raw, "error_free": 1})
    sent = [state["t"] for _, state in home.states]
    # an unfiltered value goes with every reading, beside the last sound filtered one
    check(sent == [-40.0, 98.6, 98.6], f"two-point line, a huge result never sent: {sent!r}")

    home = Home()
    gate = Filtered(home, {"t": completed(window=3, delta=0.5, heartbeat=1)})
    gate.driver = Fake()
    for raw in (20, 20.1, 50, 20.2, 20.1):  # the spike never leaves the median of 3
        await gate.publish_state("x", {"t": raw})
    sent = [state["t"] for _, state in home.states]
    check(sent == [20.0], f"a spike and small changes held back: {sent!r}")
    await asyncio.sleep_ms(1100)
    await gate.publish_state("x", {"t": 20.1})
    sent = [state["t"] for _, state in home.states]
    check(sent == [20.0, 20.1], f"the heartbeat publishes anyway: {sent!r}")
    await gate.publish_state("x", {"error": "no answer at 0x38"})
    await gate.publish_state("x", {"t": 20.1})
    sent = [state.get("t", "error") for _, state in home.states]
    check(sent == [20.0, 20.1, "error", 20.1], f"an error at once, then a reading: {sent!r}")


# --- the simulation's own heap: none at run time where a board's C code allocates none -----


def made_again(held, handler):
    """The pins, PWMs and interrupts of 16 peripherals, held as their drivers hold them."""
    pin = machine.Pin
    for i, n in enumerate((2, 3, 6, 7)):  # relays
        held[i] = pin(n, pin.OUT, value=0)
    for i, n in enumerate((8, 9, 10, 11)):  # contacts
        held[4 + i] = pin(n, pin.IN, pin.PULL_UP)
        held[4 + i].irq(handler, pin.IRQ_RISING | pin.IRQ_FALLING)
    for i, n in enumerate((12, 13, 14, 15)):  # dimmers
        held[8 + i] = machine.PWM(pin(n), freq=1000, duty_u16=0)
    for i, n in enumerate((16, 17, 18, 26)):  # DHT22, 1-Wire, motion, ADC
        held[12 + i] = pin(n)


async def test_pins_and_pwms_are_static():
    """A pin or PWM is one object per pin, made with the rest of the hardware, as on rp2: the
    pins, PWMs and interrupts of 16 peripherals made again hold no more heap."""
    set_hw({"pins": {"8": 1, "9": 1, "10": 0, "11": 1}})
    pin = machine.Pin
    led = pin(5)
    check(pin(5) is led and pin(5, pin.OUT, value=1) is led, "one object per pin")
    check(led.mode == pin.OUT and hw_out()["pins"]["5"] == 1, "re-initialised as an output")
    check(pin(5).mode == pin.OUT and led.value() == 1, "a pin named without a mode keeps it")
    check(pin("LED") is pin("LED") and pin(99) is pin(99), "the LED, and other ids on first use")
    last = 29 if machine.SIM_PLATFORM == "rp2" else 39
    gc.collect()
    before = gc.mem_alloc()
    pin(last, pin.IN).irq(None)
    gc.collect()
    grown = gc.mem_alloc() - before
    check(grown == 0, f"the board's last GPIO, first used, was made with the hardware: {grown}")
    dimmer = machine.PWM(pin(14), freq=2000, duty_u16=100)
    check(machine.PWM(pin(14)) is dimmer, "one PWM per pin")
    check(hw_out()["pwm"]["14"] == {"duty_u16": 0, "freq": 1000}, "re-initialised PWM")
    dimmer.deinit()
    check("14" not in hw_out()["pwm"], "deinit released it")
    edges = []

    def handler(p):
        edges.append((p.name, p.value()))

    first = [None] * 16
    made_again(first, handler)
    again = [None] * 16
    gc.collect()
    before = gc.mem_alloc()
    made_again(again, handler)
    gc.collect()
    grown = gc.mem_alloc() - before
    check(grown <= 64, f"16 peripherals made again took {grown} bytes")
    check(all(first[i] is again[i] for i in range(16)), "the same objects")
    set_hw({"pins": {"8": 1, "9": 0, "10": 0, "11": 1}})
    await until(lambda: edges, "the contact's edge")
    check(edges == [("9", 0)], f"one handler per pin, called once: {edges!r}")
    for held in again[4:8]:
        held.irq(None)


async def test_poller_reads_hw_json_without_allocating():
    """The pin interrupt poller re-reads hw.json every 20 ms into its buffers and parses it only
    when its bytes changed: over 50 polls it allocates about a file object each, and every
    change (same length, file gone, file larger than its buffers) still gives an edge."""
    # a node's inputs with its bus chips: a parse of this takes several KB
    chips = {"0x%02x" % (0x40 + n): {"chip": "sht3x", "temperature": 20 + n} for n in range(12)}
    inputs = i2c_hw(chips)
    inputs["pins"] = {"9": 1, "15": {"temperature": 21.5, "humidity": 40.0}}
    set_hw(inputs)
    edges = []
    contact = machine.Pin(9, machine.Pin.IN)
    contact.irq(lambda p: edges.append(p.value()))
    await asyncio.sleep_ms(100)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    await asyncio.sleep_ms(1000)
    grown = gc.mem_alloc() - before
    gc.enable()
    check(grown <= 50 * 64, f"50 polls of an unchanged hw.json took {grown} bytes")
    check(edges == [], "no edge while nothing changed")

    async def switch(level, what, **more):
        told = len(edges)
        if level is None:
            os.remove(STATE + "/hw.json")
        else:
            inputs["pins"]["9"] = level
            inputs.update(more)
            set_hw(inputs)
        await until(lambda: len(edges) > told, what)

    await switch(0, "a falling edge, hw.json the same length")
    await switch(1, "a rising edge")
    await switch(None, "a missing hw.json: low")
    await switch(1, "hw.json back")
    await switch(0, "a hw.json larger than the buffers", padding="x" * 5000)
    await switch(1, "and again", padding="y" * 5000)
    await switch(0, "back to one that fits", padding="")
    check(edges == [0, 1, 0, 1, 0, 1, 0], f"every edge once: {edges!r}")
    contact.irq(None)
    await until(lambda: machine._poller is None, "the poller to stop")


asyncio.run(globals()[sys.argv[1]]())
print("ok", sys.argv[1])
