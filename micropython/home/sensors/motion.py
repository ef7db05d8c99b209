# PIR motion by pin interrupt: `on` at once, `off` after `off_delay` s without motion. All
# motion sensors share one task (home/group.py), woken by any of their interrupts.
import asyncio
from machine import Pin
from micropython import const

from home.group import Grouped
from home.sensors import flag_wait

_SETTLE_MS = const(5)
_flag = asyncio.ThreadSafeFlag()
_STATES = ({"motion": False}, {"motion": True})  # never changed: shared by every sensor


def _irq(pin):
    _flag.set()


class Motion(Grouped):
    kind = "motion"
    group = []

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.pin = Pin(spec["pin"], Pin.IN)
        self.off = None
        self.pin.irq(_irq, Pin.IRQ_RISING | Pin.IRQ_FALLING)

    def stop(self):
        self.pin.irq(None)
        super().stop()
        if self.off:
            self.off.cancel()

    async def _set(self, motion):
        state = _STATES[motion]
        if self.state is not state:
            await self.home.publish_state(self.id, state)
            self.state = state  # only now: out of memory to publish it, it is told again

    async def _off_later(self):
        await asyncio.sleep_ms(self.spec["off_delay"] * 1000)
        self.off = None
        if not self.pin.value():
            await self._set(False)

    @staticmethod
    async def wake(group):
        await flag_wait(_flag)
        await asyncio.sleep_ms(_SETTLE_MS)  # debounce: read the levels once they settled

    async def step(self):
        if self.pin.value():
            if self.off:
                self.off.cancel()
                self.off = None
            await self._set(True)
        elif self.state is None:
            await self._set(False)
        elif self.state["motion"] and not self.off:
            self.off = asyncio.create_task(self._off_later())


make = Motion
