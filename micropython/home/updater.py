# The lean updater (docs/firmware.md, "OTA"): main.py runs it instead of the application
# when the application accepted an `ota` command and stored it in data/ota_cmd (main.py
# renames it to data/ota_run first, so a power cut here boots the application next time,
# which reports the update interrupted). With nothing but Wi-Fi, an MQTT session that only
# publishes, the log and the FTP client in the heap, it downloads and verifies the bundle into
# the other slot (home/ota.py) and resets: into the new version on trial, or, after a failure
# (kept in data/ota_error for the application to report), into the running one.
import gc

import asyncio
import machine
from micropython import const
from time import ticks_diff, ticks_ms

from home import store
from home.board import default_node_id
from home.log import Log
from home.mqtt import MQTTManager
from home.wifi import WiFiManager

_WDT_MS = const(8000)
_FEED_MS = const(1000)
_NET_MS = const(120000)  # no Wi-Fi this long: the update fails
_BROKER_MS = const(30000)  # no broker this long: the update goes on without reports
_REPORT_MS = const(5000)  # a report the broker does not take in this long is dropped
_LIMIT_MS = const(900000)  # an update still running after this: the watchdog resets


class Updater:
    def __init__(self, config, cmd):
        self.cmd = cmd
        self.state, self.version, self.progress, self.error = "downloading", cmd["version"], 0, None
        self.log = log = Log()
        log.boot = store.read_int("boot")
        node_id = getattr(config, "NODE_ID", None) or default_node_id()
        self.wifi = WiFiManager(
            getattr(config, "WIFI_SSID", ""), getattr(config, "WIFI_PASSWORD", ""), log.src("wifi")
        )
        self.mqtt = MQTTManager(config, node_id, log.src("mqtt"), self.wifi.up)

    async def publish(self):
        """ota/status, as the application reports it; dropped when the broker is not there."""
        if not self.mqtt.up():
            return
        body = {"state": self.state, "version": self.version, "progress": self.progress, "error": self.error}
        try:
            await asyncio.wait_for_ms(self.mqtt.publish("ota/status", body, True, 1), _REPORT_MS)
        except asyncio.TimeoutError:
            pass

    async def main(self):
        self.log("I", "updater", "running the update to %s, %d bytes free" % (self.version, gc.mem_free()))
        client = self.mqtt.client
        asyncio.create_task(self.wifi.run())
        asyncio.create_task(self.mqtt.run())
        asyncio.create_task(self.log.send_loop(client, self.mqtt.topic("log"), client.up))
        asyncio.create_task(self._feed(machine.WDT(timeout=_WDT_MS) if hasattr(machine, "WDT") else None))
        from home import ota
        from home.lib.ftp import Ftp

        ota._pause("updater")
        cmd = self.cmd
        ftp = Ftp(cmd["host"], cmd["port"], cmd["user"], cmd["password"])
        gc.collect()
        done = False
        try:
            await asyncio.wait_for_ms(self.wifi.up.wait(), _NET_MS)
            try:
                await asyncio.wait_for_ms(client.up.wait(), _BROKER_MS)
            except asyncio.TimeoutError:
                self.log("W", "update", "no broker: updating without reports")
            done = await ota.Update(self).run(cmd, ftp)
        except asyncio.TimeoutError:
            self.error = "no network"
        if not done:
            if self.error == "no network":
                self.log("E", "update", "update to %s failed: no network" % self.version)
            store.write("ota_error", self.error or "failed")
        await self._flush()

    async def _flush(self):
        """Give the log sender a moment to send what is left."""
        began = ticks_ms()
        while self.log.entries and self.mqtt.up() and ticks_diff(ticks_ms(), began) < _REPORT_MS:
            await asyncio.sleep_ms(50)

    async def _feed(self, wdt):
        began = ticks_ms()
        while wdt and ticks_diff(ticks_ms(), began) < _LIMIT_MS:
            wdt.feed()
            await asyncio.sleep_ms(_FEED_MS)


def run(config):
    """Run the update stored in data/ota_run, then reset the board."""
    cmd = store.read_json("ota_run")
    store.remove("ota_run")
    if type(cmd) is dict and type(cmd.get("version")) is str:
        asyncio.run(Updater(config, cmd).main())
    machine.reset()
