# A relay (or any plain on/off output) on a GPIO: `on` drives the pin high, or low when
# `inverted` (modules that switch on a low input). The state is echoed as the LED's is.
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

    def stop(self):
        self.pin.value(1 if self.inverted else 0)  # released: off

    async def set(self, cmd):
        on = cmd.get("on")
        if on is not None:
            self.on = on
            self.pin.value(1 if on != self.inverted else 0)
        self.state = {"on": self.on}
        await self.home.publish_state(self.id, self.state)


def make(home, spec):
    return Relay(home, spec)
