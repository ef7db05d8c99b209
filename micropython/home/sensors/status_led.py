# The status LED: blink patterns while connecting, in OTA, on error and to identify;
# otherwise a plain on/off light.
import asyncio
from machine import Pin
from time import ticks_add, ticks_diff, ticks_ms

RESIDENT = True  # the Home's status LED runs from boot, configured or not

# mode -> alternating on and off times, in 10 ms
PATTERNS = {
    "wifi": b"\x0a\x0a",  # fast blink
    "mqtt": b"\x32\x32",  # slow blink
    "ota": b"\x0a\x0a\x0a\x46",  # double flash
    "error": b"\x05\x0a\x05\x0a\x05\x41",  # triple flash
    "identify": b"\x19\x19",
}


class StatusLED:
    kind = "status_led"

    def __init__(self, home):
        from home.board import default_status_pin  # at boot; the board module is not kept

        self.home = home
        self.default_pin = default_status_pin()
        self.id = None
        self.spec = None
        self.pin = None
        self.on = False
        self.state = None
        self.identify_until = ticks_ms()
        self.error_until = ticks_ms()
        self._use(self.default_pin)

    def _use(self, pin):
        if self.pin:
            self.pin.value(0)
        self.lit = 0
        self.pin = None if pin is None else Pin(pin, Pin.OUT, value=0)

    def attach(self, spec):
        """Serve as the configured status_led peripheral."""
        self.spec = spec
        self.id = spec["id"]
        self.state = {"on": self.on}
        self._use(spec["pin"])
        return self

    def start(self):
        pass

    def stop(self):
        self.spec = self.id = self.state = None
        self.on = False
        self._use(self.default_pin)

    async def set(self, cmd):
        on = cmd.get("on")
        if on is not None:
            self.on = on
        self.state = {"on": self.on}
        await self.home.publish_state(self.id, self.state)

    def identify(self, seconds):
        self.identify_until = ticks_add(ticks_ms(), seconds * 1000)

    def error(self, seconds):
        self.error_until = ticks_add(ticks_ms(), seconds * 1000)

    def mode(self):
        now = ticks_ms()
        home = self.home
        if ticks_diff(self.identify_until, now) > 0:
            return "identify"
        if home.updating():
            return "ota"
        if ticks_diff(self.error_until, now) > 0:
            return "error"
        if not home.wifi.up.is_set():
            return "wifi"
        if not home.mqtt.client.up.is_set():
            return "mqtt"
        return "run"

    def _write(self, value):
        if self.pin and self.lit != value:
            self.pin.value(value)
            self.lit = value

    async def run(self):
        while True:
            mode = self.mode()
            if mode == "run":
                self._write(1 if self.on else 0)
                await asyncio.sleep_ms(100)
                continue
            lit = 1
            for step in PATTERNS[mode]:
                self._write(lit)
                lit ^= 1
                await asyncio.sleep_ms(step * 10)


def make(home, spec):
    return home.status_led.attach(spec)
