# machine for the unix port: a simulated rp2 or esp32 board. Inputs come from
# <state-dir>/hw.json, read at every use; outputs go to <state-dir>/hw_out.json on every change.
# As on a board, its pins and PWMs are static objects, made here with the rest of the hardware,
# and pin and bus reads (the pin-interrupt poller's too) read hw.json into buffers made here and parse
# it only when it changed: at run time they take (almost) nothing from the firmware's heap.
import asyncio
import json
import os
from asyncio import core

_STATE = os.getenv("MICROHOME_STATE") or "."
_HW = _STATE + "/hw.json"


class _Name:
    """open() copies a path at every call unless it is an interned string: naming an attribute
    after hw.json's path interns it, and slicing it finds the interned string."""


setattr(_Name, _HW, None)
_HW = _HW[:]
del _Name
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
    where the loop's own queue is safe to use. The unix port's poll wakes late on socket data
    while a ThreadSafeFlag (no file descriptor) is among what it waits on: ~10 ms on every
    command. As small as the boards' flag: one object and one waiting task, no Event inside."""

    def __init__(self):
        self.state = 0
        self.waiting = None

    def set(self):
        self.state = 1
        task = self.waiting
        if task is not None:
            self.waiting = None
            core._task_queue.push(task)

    def clear(self):
        self.state = 0

    def remove(self, task):  # a waiting task cancelled (asyncio's Task.cancel calls this)
        if self.waiting is task:
            self.waiting = None

    async def wait(self):
        if not self.state:
            self.waiting = core.cur_task
            core.cur_task.data = self
            yield
        self.state = 0


asyncio.ThreadSafeFlag = _LoopFlag
_out = {"pwm": {}, "pins": {}}
_irqs = {}  # pin name -> [pin, handler, trigger, last level]
_poller = None
# hw.json as the last pin read saw it (_seen_size: its length, -1 unreadable, -2 none yet) and
# as it reads it now
_seen = bytearray(4096)
_read = bytearray(4096)
_seen_size = -2
_inputs = {}  # hw.json's "pins", as last parsed
_parts = {}  # the parts of it asked for by name ("i2c", "onewire", "adc", ...), as last parsed
_hog_ms = 0  # hw.json's "hog": the poller holds the whole heap for that long, once
_wifi = True  # hw.json's "wifi" and "rssi", as last parsed
_rssi = -55
_unwritten = False  # hw_out.json is behind the outputs (out of memory when they changed)


def _parse(text):
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if type(data) is dict else {}


def _hw_read():
    try:
        with open(_HW) as f:
            text = f.read()  # json.load reads a stream a byte at a time
    except OSError:
        return {}
    return _parse(text)


def _inputs_now():
    """hw.json's "pins", read again: its bytes are read into _read and compared with _seen,
    allocating nothing but the file object, and parsed only when they changed (the last
    "pins" are kept, a few hundred bytes, with "wifi", "rssi", "hog" and the parts in _parts);
    a file larger than the buffers is read and parsed at every call."""
    global _seen_size, _inputs, _hog_ms, _wifi, _rssi
    try:
        with open(_HW, "rb") as f:
            size = f.readinto(_read)
    except OSError:
        size = -1
    if size == _seen_size and size < len(_read) and _read == _seen:  # the same old bytes
        return _inputs
    if size == len(_read):
        _seen_size = -2
        doc = _hw_read()
    else:
        doc = {} if size < 0 else _parse(memoryview(_read)[:size])
    pins = doc.get("pins")
    _hog_ms = doc.get("hog") or 0
    _wifi = doc.get("wifi", True) is not False
    _rssi = doc.get("rssi", -55)
    for part in _parts:
        _parts[part] = doc.get(part)
    doc = None
    if size < len(_read):
        _seen[:] = _read  # only once it is parsed: after a MemoryError it is read again
        _seen_size = size
    _inputs = pins if type(pins) is dict else {}
    return _inputs


def hw(part):
    """hw.json's `part` ("i2c", "flash_free", ...), None if missing, as a pin read sees it:
    kept from the first ask on, as a board's chips hold their state outside the heap."""
    global _seen_size
    if part not in _parts:
        _parts[part] = None
        _seen_size = -2  # parsed again, for it
    _inputs_now()
    return _parts[part]


def hw_pin(name):
    return _inputs_now().get(name)


def hw_link():
    """hw.json's "wifi" (False: the access point is gone) and "rssi", as a pin read reads
    them: the simulated radio, like a board's, allocates nothing to be asked."""
    _inputs_now()
    return _wifi


def hw_rssi():
    _inputs_now()
    return _rssi


def _write():
    """hw_out.json, the outputs as they are now. A board's pins and PWMs need no heap: out of
    memory, the file is written at the next output change or pin poll, and the firmware never
    sees the MemoryError."""
    global _unwritten
    _unwritten = True
    try:
        with open(_STATE + "/hw_out.tmp", "w") as f:
            json.dump(_out, f)
        os.rename(_STATE + "/hw_out.tmp", _STATE + "/hw_out.json")
        _unwritten = False
    except MemoryError:
        pass


def _level(value):
    # anything but a number or a DHT22 reading: a broken board, whose pin read fails
    if value == "hang":  # a driver stuck in a read: the whole loop stops, as on a board
        import time

        time.sleep(3600)
    if value == "nomem":  # the driver reading it runs out of memory (as any allocation may)
        raise MemoryError("simulated")
    return 0 if type(value) is dict else int(value or 0)


def unique_id():
    return bytes.fromhex(os.getenv("MICROHOME_UID") or "e6614103e7a1b2c3")


def reset_cause():
    return int(os.getenv("MICROHOME_RESET_CAUSE") or 1)


_RESET = SystemExit(75)  # the sim restarts the firmware on this exit status


def reset():
    """As on a board, where it is C code: it needs no heap."""
    print("machine.reset()")
    raise _RESET


def freq():
    return 125000000


def _edges(pins):
    """Call the handlers of the interrupts whose pin's level changed."""
    for name, entry in _irqs.items():
        try:
            level = _level(pins.get(name))
        except (ValueError, MemoryError):
            level = -1
        if level != entry[3]:
            entry[3] = level
            if entry[2] & (8 if level else 4):
                entry[1](entry[0])


async def _poll():
    global _poller, _hog_ms
    while _irqs:
        try:
            _edges(_inputs_now())  # an edge where a level differs from the one last seen
        except MemoryError:  # a board's interrupts need no heap: the sim's poller goes on
            pass
        if _unwritten:
            _write()
        if _hog_ms:
            ms, _hog_ms = _hog_ms, 0
            await _hog(ms)
        await asyncio.sleep_ms(20)
    _poller = None


def _take(held):
    """held, with every free byte of the heap added to it."""
    size = 4096
    while size:
        try:
            held = (bytearray(size), held)
        except MemoryError:
            size //= 2
    while True:  # the last blocks, too small for a bytearray
        try:
            held = (None, held)
        except MemoryError:
            return held


async def _hog(ms):
    """Hold every byte of the heap that is free now for ms (a fault to test with): the
    firmware's allocations fail until it frees something, as on a board whose heap ran out."""
    print("sim: the heap held for %d ms" % ms)
    held = _take(None)
    await asyncio.sleep_ms(ms)
    held = None
    print("sim: the heap free again")


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __new__(cls, id, mode=None, pull=None, value=None):
        pin = _pins.get(id)
        if pin is None:
            pin = object.__new__(cls)
            pin.name = str(id)
            pin.mode = 0
            _pins[id] = pin
        return pin

    def __init__(self, id, mode=None, pull=None, value=None):
        """The pin's one object; a mode given sets it (as on a board, none leaves it)."""
        if mode is not None:
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
    def __new__(cls, pin, freq=1000, duty_u16=0):
        pwm = _pwms.get(pin.name)
        if pwm is None:
            pwm = object.__new__(cls)
            pwm.name = pin.name
            pwm.state = {"duty_u16": 0, "freq": 0}
            _pwms[pin.name] = pwm
        return pwm

    def __init__(self, pin, freq=1000, duty_u16=0):
        self.state["duty_u16"] = duty_u16
        self.state["freq"] = freq
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


_pins = {}  # id -> the pin's one object
_pwms = {}  # pin name -> the PWM's one object
# the board's pins (rp2: GPIO 0-29 and the LED; esp32: GPIO 0-39) and their PWMs, idle
for _id in list(range(30)) + ["LED"] if SIM_PLATFORM == "rp2" else range(40):
    PWM.__new__(PWM, Pin.__new__(Pin, _id))
del _id


# The buses (ADC, I2C, SoftI2C) live in sim/buses.py, imported on first use: a board has them
# in ROM, and a sim node without them should not pay for them.
def __getattr__(name):
    if name not in ("ADC", "I2C", "SoftI2C"):
        raise AttributeError(name)
    import buses

    return getattr(buses, name)

_write()
