# A relay (or any plain on/off output) on a GPIO: `on` drives the pin high, or low when
# `inverted` (modules that switch on a low input). The state is echoed as the LED's is. With
# `max_on` > 0 the node itself turns it off after that many seconds on, and says so: a pump
# must not run forever when Home Assistant is gone.
import asyncio

from machine import Pin

from home.sensors import Driver


class Relay(Driver):
    kind = "relay"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.inverted = spec["inverted"]
        self.pin = Pin(spec["pin"], Pin.OUT, value=1 if self.inverted else 0)
        self.on = False
        self.state = {"on": False}
        self.timer = None

    def stop(self):
        self._cancel()
        self.pin.value(1 if self.inverted else 0)  # released: off

    def _cancel(self):
        if self.timer:
            self.timer.cancel()
            self.timer = None

    async def _off_later(self, seconds):
        await asyncio.sleep(seconds)
        self.timer = None
        try:
            await self._switch(False)  # the pin first: nothing that allocates comes before it
        finally:
            self.home.log("W", self.id, "on for %d s: turned off" % seconds)

    async def _switch(self, on):
        self.on = on
        self.pin.value(1 if on != self.inverted else 0)
        self.state = {"on": on}
        await self.home.publish_state(self.id, self.state)

    async def set(self, cmd):
        on = cmd.get("on")
        if on is None:
            on = self.on
        limit = self.spec.get("max_on") or 0
        if not on or not self.on:  # a new on-time starts when it is turned on
            self._cancel()
        if on and limit and not self.timer:
            self.timer = asyncio.create_task(self._off_later(limit))
        await self._switch(on)


make = Relay
