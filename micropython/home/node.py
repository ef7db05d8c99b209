# Home: the coordinator. Owns the managers and the sensors, answers config/set and cmd.
from home.inbox import SIZE  # first: its buffers and the MQTT client's are allocated unfragmented
from home.lib import mqtt_client  # noqa: F401 (its packet buffers, allocated at import)

import gc
import json
from random import getrandbits
from time import ticks_diff, ticks_ms

import asyncio
from micropython import const

from home import PLATFORM, rare, store
from home.catalogue import NAMES
from home.config import fits, validate
from home.log import uptime_ms
from home.signing import REFUSED, check
from home.version import VERSION

CAPS = NAMES  # the peripheral types this firmware runs
# The rest of the catalogue (TYPES) only while a configuration is checked; a running
# driver's class keeps its `set` fields (home/fields_table.py, read by home/launch.py).
rare.drop(("home.catalogue",))
# Replay protection without a flash write per command: data/n holds a mark reserved this far
# (in n, milliseconds) ahead of the accepted n, written again only once n passes it.
_N_AHEAD = const(60000)
_FEED_MS = const(1000)
_RESTART_MS = const(1000)  # a driver's task that ran out of memory starts again this much later
_OOM_TRIES = const(5)  # a message that met a MemoryError is handled again, after 0.2, 0.4... s
_OOM_PAUSE_MS = const(200)
_STALL_MS = const(120000)  # Wi-Fi or MQTT supervision silent this long: let the watchdog reset
STABLE_MS = const(60000)  # up this long: the boot did not crash early (home/boot.py)
# Rare moments' modules, imported for them and dropped after (home/rare.py).
_BOOT = ("home.boot", "home.board")
_CONFIGURE = ("home.configure",)
_LAUNCH = ("home.launch",)
UPDATE = ("home.update", "home.slots")
_RARE_COMMANDS = ("identify", "reboot", "ota", "scan")
# home.commands and what its commands load: a scan's driver and bus modules
_COMMANDS = ("home.commands", "home.scan", "home.sensors.ds18b20", "home.poll", "home.bus")


class Home:
    def __init__(self, config):
        rare.call(_BOOT, "start", self, config)
        stored = store.read_json("config.json")
        if stored:
            if rare.call(_CONFIGURE, "load", self, stored, validate(stored)):
                rare.call(_LAUNCH, "start", self, stored["sensors"])

    def _wifi_down(self):
        self.mqtt.client.disconnect()

    async def on_config(self, topic, msg):
        """A signed config/set other than the one answered last: checked, run (home/launch.py),
        then stored and answered (home/configure.py); both dropped before the answer goes out."""
        stage, data = check(self.signer, topic.encode(), msg, self.last_n)
        if stage:
            self.log("W", "home", "config/set dropped: %s" % REFUSED[stage])
            return
        self.accept_n(data["n"])
        errors = validate(data)
        removed = ()
        if not errors:
            removed, errors = rare.call(_LAUNCH, "run", self, data)
        body = None
        for tries in range(_OOM_TRIES):  # the new drivers' first states may fill the heap a while
            try:
                body = rare.call(_CONFIGURE, "answer", self, msg, data, errors)
                break
            except MemoryError:
                self.no_memory("config/set")
                await asyncio.sleep_ms(_OOM_PAUSE_MS * (tries + 1))
        if body is None:
            if not errors:  # it runs, but there is no memory to store it: the one before again
                removed, errors = (), ["sensors: out of memory once running"]
                rare.call(_LAUNCH, "undo", self)
            body = rare.call(_CONFIGURE, "answer", self, msg, data, errors)
        await self.mqtt.publish("config/state", body, True, 1)
        body = None
        for sid in removed:
            await self.mqtt.publish("state/" + sid, b"", True, 1)
        if not errors:
            await self.publish_states(True)  # the lights' state: new ones start "off"
            try:
                await self.announce()
            except MemoryError:  # no room for it in the heap the new drivers left: soon
                self.no_memory("announce")
                asyncio.create_task(self.keep("announce", self._announce_later))

    # --- the replay mark ----------------------------------------------------------

    def accept_n(self, n):
        """Out of memory for the flash write, nothing is accepted: the command is tried again."""
        if n > self.n_reserved:
            store.write("n", str(n + _N_AHEAD))
            self.n_reserved = n + _N_AHEAD
        self.last_n = n

    def keep_n(self):
        """Before a planned reset: store the exact last n, so no command is refused after it."""
        store.write("n", str(self.last_n))

    # --- commands -----------------------------------------------------------------

    async def on_cmd(self, topic, msg):
        stage, data = check(self.signer, topic.encode(), msg, self.last_n)
        if stage:
            n = data["n"] if data else _peek_n(msg)
            self.log("W", "home", "cmd dropped: %s" % REFUSED[stage])
            self.queue_reply(n, REFUSED[stage])
            return
        n = data["n"]
        self.accept_n(n)
        # From here on every way out answers n: the inbox does not run an accepted n again.
        error = "busy"  # the answer when memory runs out before the command has one
        try:
            if type(data.get("id", "")) is not str:
                error = "bad value: id"
            else:
                error = await self.command(data)
            if type(error) is list:  # a scan's findings
                found, error = error, "busy"
                await self.reply(n, None, found)
                return
            if error:
                self.log("W", "home", "cmd %s refused: %s" % (data.get("cmd"), error))
        except MemoryError:
            self.no_memory("cmd")
        except Exception as e:  # a body of a shape no check foresaw: refused, never unanswered
            try:
                error = "failed: " + type(e).__name__
                self.log("E", "home", "cmd %r failed: %r" % (data.get("cmd"), e))
            except MemoryError:
                pass
        try:
            await self.reply(n, error)
        except MemoryError:  # no memory to send it now: the reply loop sends it
            self.queue_reply(n, error)

    async def reply(self, n, error, found=None):
        body = {"n": n, "ok": not error, "error": error}
        if found is not None:
            body["found"] = found
        await self.mqtt.publish("reply", body, False, 1)

    async def command(self, cmd):
        """Carry out one command; an error string for `reply`, or None."""
        name = cmd.get("cmd")
        if name == "set":
            sensor = self.sensors.get(cmd.get("id"))
            if not sensor:
                return "unknown sensor"
            fields = sensor.fields
            if not fields:
                return "not a light"
            for field, kind, low, high in fields:
                value = cmd.get(field)
                if value is not None and not fits(kind, value, low, high):
                    return "bad value: " + field
            await sensor.set(cmd)
        elif name == "announce":
            await self.announce()
        elif name in _RARE_COMMANDS:
            return rare.call(_COMMANDS, "run", self, cmd)
        else:
            return "unknown command"
        return None

    def updating(self):
        """Whether an update is under way: accepted, or the new version on trial."""
        return self.trial or self.ota[0] == "downloading"

    async def publish_ota(self):
        """ota/status. A version on trial is confirmed first; the files of the last update's
        outcome are tidied once it is reported."""
        if self.trial:
            rare.call(UPDATE, "confirm", self)
        state, version, progress, error = self.ota
        body = {"state": state, "version": version, "progress": progress, "error": error}
        await self.mqtt.publish("ota/status", body, True, 1)
        if self.settle:
            rare.call(UPDATE, "settle", self)

    # --- incoming messages --------------------------------------------------------

    def receive(self, topic, msg, retained, size):
        """From the MQTT reader: msg None when it was queued in the inbox, else (the inbox is
        full, or the message is over its limit) a memoryview of its first bytes, valid only
        during the call. A command that does not fit is answered `busy`; nothing blocks the
        reader. For a message over the limit: feed(chunk) for the rest of it, or None."""
        if msg is None:
            self.inbox_event.set()
            return None
        if size > SIZE:
            return self._large(topic, msg, size)
        if topic == self.cmd_topic:
            self._refuse_busy(msg, size)
        else:
            self.log("W", "home", "busy: dropped a message on %s" % topic)
        return None

    def _large(self, topic, head, size):
        """A message over the inbox's limit: a cmd or config/set is checked while it is read
        past and refused `too large` (home/large.py); feed() for its chunks, or None."""
        if topic != self.cmd_topic and topic != self.config_topic:
            return None
        if topic == self.config_topic and bytes(head[:64]) == self.last_sig:
            return None  # the broker re-delivers the retained config we answered already
        try:
            from home.large import Large

            return Large(self, topic, head, size).feed
        except MemoryError:  # no memory to check it: a cmd is answered busy all the same
            rare.drop(("home.large",))
            self.no_memory("large message")
            if topic == self.cmd_topic:
                self.queue_reply(_scan_n(head, 0), "busy")
            return None

    def _refuse_busy(self, msg, size):
        """Answer a command that will not run: busy, or why it is refused."""
        try:
            if len(msg) < size:  # only its start was kept: no signature to check, its n if first
                stage, data = None, {"n": _scan_n(msg, 0)}
            else:
                stage, data = check(self.signer, self.cmd_topic_bytes, msg, self.last_n)
            if stage:
                self.queue_reply(data["n"] if data else _peek_n(msg), REFUSED[stage])
            else:
                self.queue_reply(data["n"], "busy")
        except MemoryError:  # no memory to check it: answered busy all the same, if possible
            gc.collect()
            try:
                self.queue_reply(_scan_n(msg, 0), "busy")
            except MemoryError:
                self.unanswered += 1

    def queue_reply(self, n, error):
        if self.replies.put(n, error):
            self.replies_event.set()
        else:
            self.unanswered += 1

    async def reply_loop(self):
        """Answer the commands the reader refused, oldest first."""
        while True:
            if not self.replies.count:  # (after a MemoryError, keep() runs this again)
                await self.replies_event.wait()
            self.replies_event.clear()
            busy = 0
            while self.replies.count:
                n, error = self.replies.first()
                await self.reply(n, error)  # a MemoryError leaves it queued
                self.replies.pop()
                busy += error == "busy"
            if busy:
                self.log("W", "home", "busy: %d commands answered busy" % busy)
            if self.unanswered:
                self.log("E", "home", "busy: %d commands lost unanswered" % self.unanswered)
                self.unanswered = 0
            if self.refused_config:
                version, error = self.refused_config
                self.refused_config = None
                self.log("W", "home", "config %s refused: %s" % (version, error))
                body = {"version": version, "ok": False, "errors": [error]}
                await self.mqtt.publish("config/state", body, True, 1)

    def no_memory(self, where):
        """A task ran out of memory: what it held is dropped; logged once per place."""
        gc.collect()
        if self._oom != where:
            self._oom = where
            try:
                self.log("E", "home", "out of memory in %s, %d bytes free" % (where, gc.mem_free()))
            except MemoryError:
                pass

    async def keep(self, name, task):
        """Run task() and run it again after a MemoryError."""
        while True:
            try:
                return await task()
            except MemoryError:
                self.no_memory(name)
            await asyncio.sleep_ms(100)

    async def inbox_loop(self):
        tries = 0
        while True:
            await self.inbox_event.wait()
            self.inbox_event.clear()
            await self.connected.wait()  # one burst at a time: less memory at its peak
            while self.inbox:
                topic, msg = self.inbox.first()
                accepted = self.last_n
                try:
                    if topic == self.cmd_topic:
                        await self.on_cmd(topic, msg)
                    elif topic == self.config_topic:
                        # empty: deleted in Home Assistant, the stored one keeps running; the
                        # signature answered last: the broker re-delivers the retained one
                        if msg and bytes(msg[:64]) != self.last_sig:
                            await self.on_config(topic, msg)
                    elif topic == "microhome/discover" or (
                        topic == "homeassistant/status" and bytes(msg) == b"online"
                    ):
                        asyncio.create_task(self._announce_later())
                except MemoryError:
                    self.no_memory(topic)
                    if self.last_n == accepted:  # nothing done yet: again, once memory is back
                        if tries < _OOM_TRIES:
                            tries += 1
                            msg = None
                            await asyncio.sleep_ms(_OOM_PAUSE_MS * tries)
                            continue
                        if topic == self.cmd_topic:
                            self._refuse_busy(msg, len(msg))
                except Exception as e:  # a bug must not stop the inbox; it is logged
                    self.log("E", "home", "handling %s: %r" % (topic, e))
                tries = 0
                msg = None
                self.inbox.pop()

    # --- publishing ---------------------------------------------------------------

    async def publish_state(self, sid, state, retain=True):
        if sid in self.sensors:  # not for a sensor removed meanwhile
            await self.mqtt.client.publish(self.state_topic + sid, state, retain, 0)

    async def publish_states(self, outputs=False):
        """Every state known (at a connect), or the outputs' only: the other drivers tell
        their first state themselves when they start."""
        for sensor in list(self.sensors.values()):
            if sensor.state is not None and (sensor.fields or not outputs):
                await self.publish_state(sensor.id, sensor.state)

    def announce_body(self):
        body = {
            "id": self.node_id,
            "name": self.cfg["name"] or self.node_name,
            "platform": PLATFORM,
            "board": self.board_name,
            "fw": VERSION,
            "mpy": self.mpy,
            "mac": self.wifi.mac(),
            "ip": self.wifi.ip(),
            "caps": CAPS,
            "cfg": self.cfg["version"],
            "key_id": self.key_id,
        }
        if self.safe_mode:
            body["safe_mode"] = self.safe_mode
        return body

    async def announce(self):
        await self.mqtt.publish("announce", self.announce_body(), True, 1)

    async def _announce_later(self):
        # Announce and telemetry: a node just added in Home Assistant shows its diagnostics now.
        await asyncio.sleep_ms(getrandbits(11) % 2001)
        await self.announce()
        await self.telemetry()

    async def on_connect(self):
        """The burst after a connect; then the inbox and the log sender go on."""
        self.connected.clear()
        for _ in range(3):
            try:
                await self._connect_burst()
                break
            except MemoryError:  # out of memory mid-burst: collect and publish it again
                self.no_memory("connect")
                await asyncio.sleep_ms(200)
        self.connected.set()

    async def _connect_burst(self):
        await self.mqtt.publish("status", b"online", True, 1)
        await self.announce()
        await self.publish_ota()
        await self.publish_states()
        await self.telemetry()

    async def telemetry(self):
        gc.collect()
        body = {
            "uptime": uptime_ms() // 1000,
            "rssi": self.wifi.rssi(),
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "reset_cause": self.cause,
            "boot": self.boot,
            "cfg": self.cfg["version"],
            "ip": self.wifi.ip(),
        }
        await self.mqtt.publish("telemetry", body)

    async def telemetry_loop(self):
        """Telemetry every telemetry_interval, and a garbage collection every 5 s."""
        last = ticks_ms()
        ticks = 0
        while True:
            await asyncio.sleep_ms(1000)
            ticks += 1
            if self.early and ticks * 1000 >= STABLE_MS and not self.safe_mode:
                self.early = 0  # up for a while: this boot did not crash early
                store.write("early", "0")
            if ticks_diff(ticks_ms(), last) >= self.cfg["telemetry_interval"] * 1000:
                last = ticks_ms()
                await self.telemetry()
            elif ticks % 5 == 0:
                gc.collect()

    async def main(self):
        asyncio.get_event_loop().set_exception_handler(self._task_crashed)
        log_topic = self.mqtt.topic("log")
        for name, task in (
            ("status led", self.status_led.run),
            ("wifi", self.wifi.run),
            ("log", lambda: self.log.send_loop(self.mqtt.client, log_topic, self.connected)),
            ("inbox", self.inbox_loop),
            ("reply", self.reply_loop),
            ("telemetry", self.telemetry_loop),
            ("watchdog", self.watchdog_loop),
        ):
            asyncio.create_task(self.keep(name, task))
        await self.keep("mqtt", self.mqtt.run)

    async def watchdog_loop(self):
        """Feed machine.WDT while the loop runs and the Wi-Fi and MQTT supervision progress."""
        wdt = self.wdt
        if wdt is None:
            return
        wifi, client = self.wifi, self.mqtt.client
        while True:
            await asyncio.sleep_ms(_FEED_MS)
            now = ticks_ms()
            if ticks_diff(now, wifi.progress) < _STALL_MS and (
                not wifi.up.is_set() or ticks_diff(now, client.progress) < _STALL_MS
            ):
                wdt.feed()

    def _task_crashed(self, loop, context):
        error = context["exception"]
        if not isinstance(error, MemoryError):
            raise error  # out of asyncio.run(): main.py records it and resets
        for sensor in self.sensors.values():  # a driver's task: it starts again
            if getattr(sensor, "task", None) is context["future"]:
                self.no_memory(sensor.id)
                try:
                    sensor.task = asyncio.create_task(self._restart(sensor))
                except MemoryError:  # not even that: the driver stops, the node runs on
                    sensor.task = None
                return
        self.no_memory("a task")

    async def _restart(self, sensor):
        await asyncio.sleep_ms(_RESTART_MS)
        sensor.start()


def _peek_n(msg):
    """The n of a message that failed its checks, for the reply; 0 if there is none."""
    start = 0
    for c in msg:  # msg may be a memoryview: no find(), and no copy of it
        if c == 0x7B:  # {
            break
        start += 1
    try:
        n = json.loads(msg[start:]).get("n") if start < len(msg) else 0
    except (ValueError, AttributeError):
        n = 0
    except Exception:  # MemoryError or RuntimeError: nested too deep to parse here
        return _scan_n(msg, start)
    return n if type(n) is int else 0


def _scan_n(msg, i):
    """The digits after the first `"n":` from msg[i], for a body too deep to parse; or 0."""
    size = len(msg)
    while i < size - 3:
        if msg[i] == 0x22 and msg[i + 1] == 0x6E and msg[i + 2] == 0x22:  # "n"
            i += 3
            while i < size and msg[i] in (0x20, 0x3A):  # spaces and the colon
                i += 1
            n = digits = 0
            while i < size and 0x30 <= msg[i] <= 0x39:
                n = n * 10 + msg[i] - 0x30
                i += 1
                digits += 1
            if digits:
                return n
        i += 1
    return 0


def run(config):
    home = Home(config)
    gc.collect()
    gc.threshold(4096)  # collect after every 4 KB allocated: less fragmentation
    try:
        asyncio.run(home.main())
    finally:  # a crash: main.py resets the board, and commands right after it are accepted
        try:
            home.keep_n()
        except Exception:  # the crash itself is what gets reported
            pass
