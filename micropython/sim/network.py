# network for the unix port: a simulated Wi-Fi station, up unless hw.json says "wifi": false.
import machine

STA_IF = 0


class WLAN:
    PM_NONE = 0xA11140

    def __init__(self, interface=0):
        self.ssid = None

    def active(self, on=None):
        return True

    def connect(self, ssid=None, key=None):
        self.ssid = ssid

    def disconnect(self):
        self.ssid = None

    def isconnected(self):
        return self.ssid is not None and machine.hw_link()

    def status(self, param=None):
        if param == "rssi":
            return machine.hw_rssi()
        return 3 if self.isconnected() else 1

    def ifconfig(self):
        return ("127.0.0.1" if self.isconnected() else "0.0.0.0", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, name=None, **settings):
        if name == "mac":
            return (b"\x28\xcd\xc1" if machine.SIM_PLATFORM == "rp2" else b"\x24\x0a\xc4") + machine.unique_id()[-3:]
        return None
