# PIR motion by pin interrupt: `on` at once, `off` after `off_delay` s without motion.
import asyncio
from machine import Pin
from micropython import const

from home.sensors import Driver

_SETTLE_MS = const(5)


class Motion(Driver):
    kind = "motion"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.pin = Pin(spec["pin"], Pin.IN)
        self.flag = asyncio.ThreadSafeFlag()
        self.off = None
        self.pin.irq(self._irq, Pin.IRQ_RISING | Pin.IRQ_FALLING)

    def _irq(self, pin):
        self.flag.set()

    def stop(self):
        self.pin.irq(None)
        super().stop()
        if self.off:
            self.off.cancel()

    async def _set(self, motion):
        if not self.state or self.state["motion"] != motion:
            self.state = {"motion": motion}
            await self.home.publish_state(self.id, self.state)

    async def _off_later(self):
        await asyncio.sleep_ms(self.spec["off_delay"] * 1000)
        self.off = None
        if not self.pin.value():
            await self._set(False)

    async def run(self):
        await self._set(bool(self.pin.value()))
        while True:
            await self.flag.wait()
            await asyncio.sleep_ms(_SETTLE_MS)  # debounce: read the level once it settled
            if self.pin.value():
                if self.off:
                    self.off.cancel()
                    self.off = None
                await self._set(True)
            elif self.state["motion"] and not self.off:
                self.off = asyncio.create_task(self._off_later())


def make(home, spec):
    return Motion(home, spec)
