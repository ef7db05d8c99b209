# machine for the unix port: a simulated rp2 or esp32 board. Inputs come from
# <state-dir>/hw.json, read at every use; outputs go to <state-dir>/hw_out.json on every change.
import asyncio
import json
import os

_STATE = os.getenv("MICROHOME_STATE") or "."
SIM_PLATFORM = os.getenv("MICROHOME_PLATFORM") or "rp2"
SIM_BOARD = "Raspberry Pi Pico W (simulated)" if SIM_PLATFORM == "rp2" else "ESP32 (simulated)"
PWRON_RESET = 1
WDT_RESET = 3
if SIM_PLATFORM != "rp2":
    HARD_RESET = 2
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5



class _LoopFlag:
    """asyncio.ThreadSafeFlag for the sim: its pin interrupts are raised by _poll, on the loop,
    where an Event is safe. The unix port's poll wakes late on socket data while a
    ThreadSafeFlag (no file descriptor) is among what it waits on: ~10 ms on every command."""

    def __init__(self):
        self._event = asyncio.Event()

    def set(self):
        self._event.set()

    def clear(self):
        self._event.clear()

    async def wait(self):
        await self._event.wait()
        self._event.clear()


asyncio.ThreadSafeFlag = _LoopFlag
_out = {"pwm": {}, "pins": {}}
_irqs = {}  # pin name -> [pin, handler, trigger, last level]
_poller = None


def hw():
    """The simulated inputs, {} if hw.json is missing or broken."""
    try:
        with open(_STATE + "/hw.json") as f:
            data = json.loads(f.read())  # json.load reads a stream a byte at a time
    except (OSError, ValueError):
        return {}
    return data if type(data) is dict else {}


def hw_pin(name):
    pins = hw().get("pins")
    return pins.get(name) if type(pins) is dict else None


def _write():
    with open(_STATE + "/hw_out.tmp", "w") as f:
        json.dump(_out, f)
    os.rename(_STATE + "/hw_out.tmp", _STATE + "/hw_out.json")


def _level(value):
    # anything but a number or a DHT22 reading: a broken board, whose pin read fails
    if value == "hang":  # a driver stuck in a read: the whole loop stops, as on a board
        import time

        time.sleep(3600)
    return 0 if type(value) is dict else int(value or 0)


def unique_id():
    return bytes.fromhex(os.getenv("MICROHOME_UID") or "e6614103e7a1b2c3")


def reset_cause():
    return int(os.getenv("MICROHOME_RESET_CAUSE") or 1)


def reset():
    print("machine.reset()")
    raise SystemExit(75)  # the sim restarts the firmware on this exit status


def freq():
    return 125000000


async def _poll():
    global _poller
    while _irqs:
        pins = hw().get("pins") or {}
        for name, entry in _irqs.items():
            try:
                level = _level(pins.get(name))
            except ValueError:
                level = -1
            if level != entry[3]:
                entry[3] = level
                if entry[2] & (8 if level else 4):
                    entry[1](entry[0])
        await asyncio.sleep_ms(20)
    _poller = None


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=0, pull=-1, value=None):
        self.name = str(id)
        self.mode = mode
        if mode == 1:
            self.value(value or 0)

    def value(self, v=None):
        if v is None:
            if self.mode == 1:
                return _out["pins"].get(self.name, 0)
            return _level(hw_pin(self.name))
        v = 1 if v else 0
        if _out["pins"].get(self.name) != v:
            _out["pins"][self.name] = v
            _write()
        return None

    def irq(self, handler=None, trigger=12):
        global _poller
        _irqs.pop(self.name, None)
        if handler:
            _irqs[self.name] = [self, handler, trigger, _level(hw_pin(self.name))]
            if _poller is None:
                _poller = asyncio.create_task(_poll())


class WDT:
    """The watchdog: feed() stamps <state-dir>/wdt with the timeout; `microhome sim` resets the
    firmware (reset cause WDT_RESET) when the file is older than that."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feed()

    def feed(self):
        with open(_STATE + "/wdt.tmp", "w") as f:
            f.write(str(self.timeout))
        os.rename(_STATE + "/wdt.tmp", _STATE + "/wdt")


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0):
        self.name = pin.name
        self.state = {"duty_u16": duty_u16, "freq": freq}
        _out["pwm"][self.name] = self.state
        _write()

    def duty_u16(self, d=None):
        if d is None:
            return self.state["duty_u16"]
        if d != self.state["duty_u16"]:
            self.state["duty_u16"] = d
            _write()

    def freq(self, f=None):
        if f is None:
            return self.state["freq"]
        self.state["freq"] = f
        _write()

    def deinit(self):
        _out["pwm"].pop(self.name, None)
        _write()


# The buses (ADC, I2C, SoftI2C) live in sim/buses.py, imported on first use: a board has them
# in ROM, and a sim node without them should not pay for them.
def __getattr__(name):
    if name not in ("ADC", "I2C", "SoftI2C"):
        raise AttributeError(name)
    import buses

    return getattr(buses, name)

_write()
