# UpdateManager: firmware version bookkeeping at boot and the `ota` command.
# The FTP download itself comes in a later version; `ota` reports that on ota/status.
import asyncio
import json

from home import store
from home.version import VERSION

_BUSY = ("downloading", "verifying", "applying", "rebooting")
# field -> type, in the order they are checked
_FIELDS = (("version", str), ("host", str), ("port", int), ("path", str), ("manifest_sha256", str))


class UpdateManager:
    def __init__(self, home):
        self.home = home
        self.state = "idle"
        self.version = VERSION
        self.progress = 0
        self.error = None
        log = home.log.src("update")
        previous = store.read("fw")
        if previous != VERSION:
            store.write("fw", VERSION)
            log("I", "firmware %s (was %s)" % (VERSION, previous or "none"))
        target = store.read("ota_target")
        if target:  # an update was being applied before this boot
            store.remove("ota_target")
            if target == VERSION:
                self.state, self.progress = "done", 100
            else:
                self.state, self.error = "rolled_back", "running %s, not %s" % (VERSION, target)
            log("I" if target == VERSION else "E", "update to %s: %s" % (target, self.state))

    def busy(self):
        return self.state in _BUSY

    def body(self):
        return json.dumps(
            {"state": self.state, "version": self.version, "progress": self.progress, "error": self.error}
        )

    async def publish(self):
        await self.home.mqtt.publish("ota/status", self.body(), True, 1)

    def command(self, cmd):
        """Check an `ota` command; an error for `reply`, or None once it is under way."""
        for name, kind in _FIELDS:
            if type(cmd.get(name)) is not kind:
                return "bad value: " + name
        if not 0 < cmd["port"] < 65536:
            return "bad value: port"
        if len(cmd["manifest_sha256"]) != 64:
            return "bad value: manifest_sha256"
        if self.busy():
            return "busy"
        self.home.log("W", "update", "OTA is not implemented in this firmware yet")
        self.state, self.version, self.progress = "failed", cmd["version"], 0
        self.error = "OTA is not implemented in firmware %s yet" % VERSION
        asyncio.create_task(self.publish())
        return None
