# Wi-Fi keeper: connects, notices a loss and reconnects with back-off.
import asyncio
import network
from time import ticks_diff, ticks_ms

from home import PLATFORM


class WiFiManager:
    def __init__(self, ssid, password, log, on_down=None):
        self.ssid, self.password = ssid, password
        self.log, self.on_down = log, on_down  # on_down(): called when the connection is lost
        self.wlan = network.WLAN(network.STA_IF)
        self.up = asyncio.Event()
        self.progress = ticks_ms()  # the last turn of the supervision loop, for the watchdog

    def mac(self):
        return ":".join("%02x" % b for b in self.wlan.config("mac"))

    def ip(self):
        return self.wlan.ifconfig()[0] if self.up.is_set() else ""

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError, TypeError):
            return None

    async def run(self):
        wlan = self.wlan
        wlan.active(True)
        if PLATFORM == "rp2":
            wlan.config(pm=getattr(network.WLAN, "PM_NONE", 0xA11140))  # power saving off
        delay = 1000
        while True:
            self.progress = ticks_ms()
            if wlan.isconnected():
                if not self.up.is_set():
                    self.up.set()
                    self.log("I", "connected, ip %s" % wlan.ifconfig()[0])
                    delay = 1000
                await asyncio.sleep_ms(1000)
                continue
            if self.up.is_set():
                self.up.clear()
                self.log("W", "connection lost")
                if self.on_down:
                    self.on_down()
            self.log("I", "connecting to %s" % self.ssid)
            wlan.connect(self.ssid, self.password)
            began = ticks_ms()
            while not wlan.isconnected() and ticks_diff(ticks_ms(), began) < 15000:
                await asyncio.sleep_ms(250)
            if not wlan.isconnected():
                self.log("W", "not connected (status %s), retry in %d s" % (wlan.status(), delay // 1000))
                wlan.disconnect()
                await asyncio.sleep_ms(delay)
                delay = min(delay * 2, 30000)
