# UpdateManager: the `ota` command and what became of the last update. An accepted command is
# stored in data/ota_cmd and the node resets into the lean updater (home/updater.py, run by
# main.py before the application), which installs the new version in the other slot.
# A new version boots on trial (slots.py, main.py): it is good once it reached the broker and
# reported; main.py goes back to the old one after 3 boots that did not get there.
import json

import asyncio

from home import slots, store
from home.version import VERSION

_BUSY = ("downloading", "verifying", "applying", "rebooting")
# field -> type, in the order they are checked
_FIELDS = (
    ("version", str),
    ("host", str),
    ("port", int),
    ("user", str),
    ("password", str),
    ("path", str),
    ("manifest_sha256", str),
)


class UpdateManager:
    def __init__(self, home):
        self.home = home
        self.state = "idle"
        self.version = VERSION
        self.progress = 0
        self.error = None
        self.trial = False
        self._settle = False  # ota_target and the record to tidy once the outcome is reported
        log = home.log.src("update")
        previous = store.read("fw")
        if previous != VERSION:
            store.write("fw", VERSION)
            log("I", "firmware %s (was %s)" % (VERSION, previous or "none"))
        rec = slots.record()
        target = store.read("ota_target")
        if len(rec) == 3:
            self.trial = True  # good once connected: publish()
            self.state, self.progress = "rebooting", 100
            log("I", "firmware %s on trial, boot %s of 3" % (VERSION, rec[2]))
        elif target or len(rec) == 2:
            self._settle = True
            self.version = target or "?"
            if len(rec) == 2:
                self.state = "rolled_back"
                self.error = "%s did not reach the broker in 3 boots; back on %s%s" % (
                    self.version,
                    VERSION,
                    _last_crash(),
                )
            else:
                self.state = "failed"
                self.error = store.read("ota_error") or "update to %s interrupted; still on %s" % (
                    target,
                    VERSION,
                )
            log("E", "update to %s: %s" % (self.version, self.error))
        slots.rmtree(slots.STAGING)  # what an interrupted download left

    def busy(self):
        return self.state in _BUSY or self.trial

    def body(self):
        return json.dumps(
            {
                "state": self.state,
                "version": self.version,
                "progress": self.progress,
                "error": self.error,
            }
        )

    async def publish(self):
        if self.trial:  # connected and announced: the new version is good
            slots.write(slots.record()[0])
            store.remove("ota_target")
            self.trial = False
            self.state, self.version, self.progress = "done", VERSION, 100
            self.home.log("I", "update", "firmware %s confirmed" % VERSION)
        await self.home.mqtt.publish("ota/status", self.body(), True, 1)
        if self._settle:
            self._settle = False
            store.remove("ota_target")
            store.remove("ota_error")
            slots.write(slots.record()[0])

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
        store.write_json("ota_cmd", {name: cmd[name] for name, _ in _FIELDS})
        store.write("ota_target", cmd["version"])  # reported at the next boot if the update ends early
        self.state, self.version, self.progress, self.error = "downloading", cmd["version"], 0, None
        asyncio.create_task(self._start())
        return None

    async def _start(self):
        self.home.log("I", "update", "update to %s: restarting into the updater" % self.version)
        await self.publish()
        await self.home._reboot()


def _last_crash():
    """': ' and the last line of data/crash.txt (the exception), or ''."""
    last = ""
    try:
        with open(store.path("crash.txt")) as f:
            while True:
                line = f.readline(160).strip()
                if not line:
                    break
                last = line
    except OSError:
        pass
    return ": " + last if last else ""
