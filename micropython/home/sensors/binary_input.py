# A contact on a GPIO (door, window, button): on/off by pin interrupt with debounce; for a
# button ("events": true) also press, double press and long press.
# spec: {"id", "type": "binary_input", "pin": int, "pull": "up" | "down" | "none" = "none",
#        "inverted": bool = False (on when the pin is low, e.g. a button to GND with "up"),
#        "debounce_ms": int = 50, "events": bool = False,
#        "long_ms": int = 1000 (held this long: long press),
#        "double_ms": int = 400 (a second press within this: double press)}
# state: {"on": bool} (retained); with an event, once and not retained: {"on": bool,
#        "event": "press" | "double_press" | "long_press"}
import asyncio
from time import ticks_diff, ticks_ms

from machine import Pin
from micropython import const

from home.sensors import Driver, flag_wait

_POLL_MS = const(10)
_PULLS = {"up": Pin.PULL_UP, "down": Pin.PULL_DOWN}


class BinaryInput(Driver):
    kind = "binary_input"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        pull = _PULLS.get(spec.get("pull"))
        pin = Pin(spec["pin"], Pin.IN) if pull is None else Pin(spec["pin"], Pin.IN, pull)
        self.pin = pin
        self.inverted = bool(spec.get("inverted"))
        self.debounce = spec.get("debounce_ms") or 50
        self.events = bool(spec.get("events"))
        self.long_ms = spec.get("long_ms") or 1000
        self.double_ms = spec.get("double_ms") or 400
        self.on = None
        self.flag = asyncio.ThreadSafeFlag()
        pin.irq(self._irq, Pin.IRQ_RISING | Pin.IRQ_FALLING)

    def _irq(self, pin):
        self.flag.set()

    def stop(self):
        self.pin.irq(None)
        super().stop()

    def level(self):
        return self.pin.value() != self.inverted

    async def publish(self, event=None):
        self.state = {"on": self.on}
        if event:  # told once, not retained: an old event never fires again after a restart
            await self.home.publish_state(self.id, {"on": self.on, "event": event}, False)
        else:
            await self.home.publish_state(self.id, self.state)

    async def settle(self):
        """Take a level that held for the debounce time; whether it changed."""
        on = self.level()
        if on == self.on:
            return False
        await asyncio.sleep_ms(self.debounce)
        if self.level() != on:
            return False
        self.on = on
        await self.publish()
        return True

    async def gesture(self):
        """From a press: a long press while held, or after the release a press, or a double
        press if a second one follows soon."""
        pressed = ticks_ms()
        while self.on:
            if ticks_diff(ticks_ms(), pressed) >= self.long_ms:
                await self.publish("long_press")
                return
            await asyncio.sleep_ms(_POLL_MS)
            await self.settle()
        released = ticks_ms()
        while not self.on:
            if ticks_diff(ticks_ms(), released) >= self.double_ms:
                await self.publish("press")
                return
            await asyncio.sleep_ms(_POLL_MS)
            await self.settle()
        await self.publish("double_press")

    async def run(self):
        self.on = self.level()
        await self.publish()
        while True:
            await flag_wait(self.flag)
            if await self.settle() and self.on and self.events:
                await self.gesture()


make = BinaryInput
