# Dimmable LED on PWM: brightness 0-255, gamma-corrected, fades run on the loop.
import asyncio
from machine import PWM, Pin
from micropython import const
from time import ticks_diff, ticks_ms

from home.sensors import Driver

_STEP_MS = const(20)


def duty(level):
    """PWM duty for brightness 0-255 with gamma 2, in small integers only."""
    square = level * level
    return min(square + (square >> 7) + (square >> 14), 65535)


class LED(Driver):
    kind = "led"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.pwm = PWM(Pin(spec["pin"]), freq=spec["freq"], duty_u16=0)
        self.level = 0  # brightness shown now
        self.last = 255  # last non-zero brightness, restored by a bare `on`
        self.state = {"on": False, "brightness": 0}
        self.fade = None

    def stop(self):
        if self.fade:
            self.fade.cancel()
        self.pwm.deinit()

    def _show(self, level):
        self.level = level
        self.pwm.duty_u16(duty(level))

    async def set(self, cmd):
        """`set` with optional on, brightness and transition (checked against the catalogue)."""
        on = cmd.get("on")
        brightness = cmd.get("brightness")
        transition = cmd.get("transition") or 0
        if brightness is not None:
            if brightness:
                self.last = brightness
                if on is None:
                    on = True
            else:
                on = False
        if on is None:
            on = self.state["on"]
        target = self.last if on else 0
        self.state = {"on": on, "brightness": target}
        if self.fade:
            self.fade.cancel()
            self.fade = None
        if transition and target != self.level:
            self.fade = asyncio.create_task(self._fade(target, int(transition * 1000)))
        else:
            self._show(target)
        await self.home.publish_state(self.id, self.state)

    async def _fade(self, target, ms):
        start = self.level
        began = ticks_ms()
        while True:
            elapsed = ticks_diff(ticks_ms(), began)
            if elapsed >= ms:
                break
            self._show(start + (target - start) * elapsed // ms)
            await asyncio.sleep_ms(_STEP_MS)
        self._show(target)
        self.fade = None


make = LED
