# Sensors read every `interval` s: a reading is retried, then reported as {"error": why}; the
# first failure is logged at W and the recovery at I, so a dead device costs one log line.
import asyncio
import errno
from micropython import const

from home.sensors import Driver

_TRIES = const(3)
_RETRY_MS = const(100)


class CRCError(Exception):
    """A reading whose CRC does not match: never published."""


class Polled(Driver):
    where = ""  # how the device is addressed, for errors: "at 0x38"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.log = home.log.src(self.id)

    def stop(self):
        super().stop()
        self.close()

    def close(self):
        pass

    async def measure(self):
        """One reading as a state dict; raises OSError or CRCError."""
        raise NotImplementedError

    def why(self, e):
        if isinstance(e, CRCError):
            return "CRC check failed"
        if not isinstance(e, OSError):
            return "read failed: %r" % e
        if e.args and e.args[0] == errno.ETIMEDOUT:
            return "bus stuck"
        return "no answer " + self.where

    async def sample(self):
        """A reading, or {"error": why} after _TRIES failed ones."""
        for attempt in range(_TRIES):
            if attempt:
                await asyncio.sleep_ms(_RETRY_MS)
            try:
                return await self.measure()
            except Exception as e:  # OSError, CRCError; any other: reported, the node runs on
                error = e
                self.log("D", "read %d failed: %s" % (attempt + 1, self.why(e)))
        return {"error": self.why(error)}

    async def run(self):
        interval = self.spec["interval"] * 1000
        while True:
            state = await self.sample()
            failed = self.state is not None and "error" in self.state
            if "error" in state:
                if not failed:
                    self.log("W", "no reading after %d tries: %s" % (_TRIES, state["error"]))
            elif failed:
                self.log("I", "reading again")
            self.state = state
            await self.home.publish_state(self.id, state)
            await asyncio.sleep_ms(interval)
