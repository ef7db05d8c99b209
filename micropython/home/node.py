# Home: the coordinator. Owns the managers and the sensors, answers config/set and cmd.
import gc
import json
from binascii import unhexlify
from random import getrandbits
from time import ticks_diff, ticks_ms

import asyncio
import machine
from micropython import const

from home import board, store
from home.catalogue import NAMES, TYPES
from home.config import fits, validate
from home.log import LEVELS, Log, uptime_ms
from home.mqtt import MQTTManager
from home.sensors import make, unload
from home.sensors.status_led import StatusLED
from home.signing import Signer, check, key_id
from home.update import UpdateManager
from home.version import VERSION
from home.wifi import WiFiManager

CAPS = NAMES  # the peripheral types this firmware runs
_INBOX = const(8)
_CRASH_LINES = const(16)
_LINE_MAX = const(160)
_REFUSED = {"signature": "bad signature", "n": "bad value: n", "replay": "replayed n"}


class Home:
    def __init__(self, config):
        store.init()
        self.log = log = Log()
        self.boot = log.boot = store.read_int("boot") + 1
        store.write("boot", str(self.boot))
        self.cause = board.reset_cause()
        log("I", "home", "boot %d, firmware %s, reset cause %s" % (self.boot, VERSION, self.cause))
        self.node_id = getattr(config, "NODE_ID", None) or board.default_node_id()
        key = unhexlify(config.NODE_KEY)
        self.signer = Signer(key)
        self.key_id = key_id(key)
        self.node_name = getattr(config, "NODE_NAME", None) or self.node_id
        self.last_n = store.read_int("n")
        self.last_sig = store.read("sig", "").encode()
        self.sensors = {}
        self.inbox = []
        self.inbox_event = asyncio.Event()
        self.connected = asyncio.Event()  # set once on_connect has published everything
        self.status_led = StatusLED(self)
        self.wifi = WiFiManager(
            getattr(config, "WIFI_SSID", ""),
            getattr(config, "WIFI_PASSWORD", ""),
            log.src("wifi"),
            self._wifi_down,
        )
        self.mqtt = MQTTManager(self, config)
        self.update = UpdateManager(self)
        self._crash_report()
        self.cfg = {"version": 0, "name": "", "telemetry_interval": 60, "log_level": "I", "sensors": []}
        stored = store.read_json("config.json")
        if stored:
            errors = validate(stored)
            if errors:
                log("E", "home", "stored config refused: %s" % "; ".join(errors))
            else:
                self.apply(stored)
                log("I", "home", "config version %d loaded" % stored["version"])

    def _crash_report(self):
        """Log the traceback main.py left on the flash: one C line per line of it."""
        try:
            with open(store.path("crash.txt")) as f:
                self.log("C", "crash", "unhandled exception before boot %d:" % self.boot)
                for _ in range(_CRASH_LINES):
                    line = f.readline(_LINE_MAX).rstrip()
                    if not line:
                        break
                    self.log("C", "crash", line)
        except (OSError, MemoryError):
            return
        store.remove("crash.txt")
        self.status_led.error(10)

    def _wifi_down(self):
        self.mqtt.client.disconnect()

    # --- configuration ------------------------------------------------------------

    def apply(self, cfg):
        """Run cfg (already validated): peripherals created, changed and removed, drivers no
        type uses any more dropped. The ids removed."""
        wanted = {}
        for spec in cfg["sensors"]:
            wanted[spec["id"]] = spec
        removed = []
        for sid in list(self.sensors):
            sensor = self.sensors[sid]
            if wanted.get(sid) != sensor.spec:
                sensor.stop()
                del self.sensors[sid]
                if sid not in wanted:
                    removed.append(sid)
        sensor = None
        unload([spec["type"] for spec in cfg["sensors"]])
        gc.collect()
        for spec in cfg["sensors"]:
            if spec["id"] not in self.sensors:
                try:
                    sensor = make(self, spec)
                    sensor.start()
                    self.sensors[spec["id"]] = sensor
                except Exception as e:  # a driver refusing its pin: keep the rest running
                    self.log("E", "home", "cannot start %s: %r" % (spec["id"], e))
        self.log.level = LEVELS.find(cfg["log_level"])
        self.cfg = cfg
        return removed

    async def on_config(self, topic, msg):
        if not msg:
            return  # the config was deleted in Home Assistant: keep running the stored one
        if msg[:64] == self.last_sig:
            return  # the broker re-delivers the retained config we answered already
        stage, data = check(self.signer, topic.encode(), msg, self.last_n)
        if stage:
            self.log("W", "home", "config/set dropped: %s" % _REFUSED[stage])
            return
        self._accept_n(data["n"])
        errors = validate(data)
        version = data.get("version")
        if type(version) is not int:
            version = self.cfg["version"]
        removed = ()
        if errors:
            self.log("W", "home", "config %s refused: %s" % (version, "; ".join(errors)))
        else:
            removed = self.apply(data)
            store.write_json("config.json", data)
            self.log("I", "home", "config version %d applied" % version)
        self.last_sig = bytes(msg[:64])
        store.write("sig", self.last_sig.decode())
        body = json.dumps({"version": version, "ok": not errors, "errors": errors})
        await self.mqtt.publish("config/state", body, True, 1)
        for sid in removed:
            await self.mqtt.publish("state/" + sid, b"", True, 1)
        if not errors:
            for sensor in list(self.sensors.values()):
                if sensor.state is not None:  # the lights' state: new ones start "off"
                    await self.publish_state(sensor.id, sensor.state)
            await self.announce()

    def _accept_n(self, n):
        self.last_n = n
        store.write("n", str(n))

    # --- commands -----------------------------------------------------------------

    async def on_cmd(self, topic, msg):
        stage, data = check(self.signer, topic.encode(), msg, self.last_n)
        if stage:
            n = data["n"] if data else _peek_n(msg)
            self.log("W", "home", "cmd dropped: %s" % _REFUSED[stage])
            await self.reply(n, _REFUSED[stage])
            return
        self._accept_n(data["n"])
        error = await self.command(data)
        if error:
            self.log("W", "home", "cmd %s refused: %s" % (data.get("cmd"), error))
        await self.reply(data["n"], error)

    async def reply(self, n, error):
        body = json.dumps({"n": n, "ok": not error, "error": error})
        await self.mqtt.publish("reply", body, False, 1)

    async def command(self, cmd):
        """Carry out one command; an error string for `reply`, or None."""
        name = cmd.get("cmd")
        if name == "set":
            sensor = self.sensors.get(cmd.get("id"))
            if not sensor:
                return "unknown sensor"
            fields = TYPES[sensor.kind][2]
            if not fields:
                return "not a light"
            for field, kind, low, high in fields:
                value = cmd.get(field)
                if value is not None and not fits(kind, value, low, high):
                    return "bad value: " + field
            await sensor.set(cmd)
        elif name == "identify":
            seconds = cmd.get("seconds", 10)
            if type(seconds) is not int or not 1 <= seconds <= 300:
                return "bad value: seconds"
            self.status_led.identify(seconds)
        elif name == "reboot":
            asyncio.create_task(self._reboot())
        elif name == "announce":
            await self.announce()
        elif name == "ota":
            return self.update.command(cmd)
        else:
            return "unknown command"
        return None

    async def _reboot(self):
        self.log("I", "home", "rebooting")
        await asyncio.sleep_ms(500)
        await self.mqtt.publish("status", b"offline", True, 0)
        await asyncio.sleep_ms(50)
        machine.reset()

    # --- incoming messages --------------------------------------------------------

    def receive(self, topic, msg, retained):
        """From the MQTT reader: queue the message for the inbox task."""
        if len(self.inbox) >= _INBOX:
            self.log("W", "home", "busy: dropped a message on %s" % topic)
            return
        self.inbox.append((topic, msg))
        self.inbox_event.set()

    async def inbox_loop(self):
        prefix = self.mqtt.prefix
        while True:
            await self.inbox_event.wait()
            self.inbox_event.clear()
            await self.connected.wait()  # one burst at a time: less memory at its peak
            while self.inbox:
                topic, msg = self.inbox.pop(0)
                try:
                    if topic == prefix + "cmd":
                        await self.on_cmd(topic, msg)
                    elif topic == prefix + "config/set":
                        await self.on_config(topic, msg)
                    elif topic == "microhome/discover" or (
                        topic == "homeassistant/status" and msg == b"online"
                    ):
                        asyncio.create_task(self._announce_later())
                except Exception as e:  # a bug must not stop the inbox; it is logged
                    self.log("E", "home", "handling %s: %r" % (topic, e))
                msg = None

    # --- publishing ---------------------------------------------------------------

    async def publish_state(self, sid, state):
        if sid in self.sensors:  # not for a sensor removed meanwhile
            await self.mqtt.publish("state/" + sid, json.dumps(state), True, 0)

    def announce_body(self):
        return json.dumps(
            {
                "id": self.node_id,
                "name": self.cfg["name"] or self.node_name,
                "platform": board.PLATFORM,
                "board": board.BOARD,
                "fw": VERSION,
                "mpy": board.MPY,
                "mac": self.wifi.mac(),
                "ip": self.wifi.ip(),
                "caps": CAPS,
                "cfg": self.cfg["version"],
                "key_id": self.key_id,
            }
        )

    async def announce(self):
        await self.mqtt.publish("announce", self.announce_body(), True, 1)

    async def _announce_later(self):
        await asyncio.sleep_ms(getrandbits(11) % 2001)
        await self.announce()

    async def on_connect(self):
        self.connected.clear()
        await self.mqtt.publish("status", b"online", True, 1)
        await self.announce()
        await self.update.publish()
        for sensor in list(self.sensors.values()):
            if sensor.state is not None:
                await self.publish_state(sensor.id, sensor.state)
        await self.telemetry()
        self.connected.set()

    async def telemetry(self):
        gc.collect()
        body = json.dumps(
            {
                "uptime": uptime_ms() // 1000,
                "rssi": self.wifi.rssi(),
                "mem_free": gc.mem_free(),
                "mem_alloc": gc.mem_alloc(),
                "reset_cause": self.cause,
                "boot": self.boot,
                "cfg": self.cfg["version"],
                "ip": self.wifi.ip(),
            }
        )
        await self.mqtt.publish("telemetry", body)

    async def telemetry_loop(self):
        """Telemetry every telemetry_interval, and a garbage collection every 5 s."""
        last = ticks_ms()
        ticks = 0
        while True:
            await asyncio.sleep_ms(1000)
            ticks += 1
            if ticks_diff(ticks_ms(), last) >= self.cfg["telemetry_interval"] * 1000:
                last = ticks_ms()
                await self.telemetry()
            elif ticks % 5 == 0:
                gc.collect()

    async def main(self):
        asyncio.get_event_loop().set_exception_handler(_task_crashed)
        asyncio.create_task(self.status_led.run())
        asyncio.create_task(self.wifi.run())
        log = self.log.send_loop(self.mqtt.client, self.mqtt.topic("log"), self.connected)
        asyncio.create_task(log)
        asyncio.create_task(self.inbox_loop())
        asyncio.create_task(self.telemetry_loop())
        await self.mqtt.run()


def _task_crashed(loop, context):
    raise context["exception"]  # out of asyncio.run(): main.py records it and resets


def _peek_n(msg):
    """The n of a message that failed its checks, for the reply; 0 if there is none."""
    start = msg.find(b"{")
    try:
        n = json.loads(msg[start:]).get("n") if start >= 0 else 0
    except (ValueError, AttributeError):
        n = 0
    return n if type(n) is int else 0


def run(config):
    home = Home(config)
    gc.collect()
    gc.threshold(4096)  # collect after every 4 KB allocated: less fragmentation
    asyncio.run(home.main())
