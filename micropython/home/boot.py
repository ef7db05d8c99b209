# The boot of the application, run once by Home and then dropped (home/rare.py): the watchdog,
# the boot counter, the managers, the crash report, what became of the last update and safe
# mode. The stored configuration is loaded after it (home/configure.py).
from binascii import unhexlify

import asyncio
import machine
from micropython import const

from home import board, rare, store
from home.inbox import Inbox, replies
from home.log import Log
from home.mqtt import MQTTManager
from home.node import UPDATE, STABLE_MS
from home.sensors.status_led import StatusLED
from home.signing import Signer, key_id
from home.version import VERSION
from home.wifi import WiFiManager

_WDT_MS = const(8000)  # the rp2 watchdog's maximum is about 8.3 s
_SAFE_AFTER = const(3)  # boots in a row that crashed early: the next one is in safe mode
_CRASH_LINES = const(16)
_LINE_MAX = const(160)


def start(home, config):
    wdt = getattr(machine, "WDT", None)  # from here on: a boot that hangs is reset too
    home.wdt = wdt(timeout=_WDT_MS) if wdt else None
    store.init()
    home.log = log = Log()
    home.boot = log.boot = store.read_int("boot") + 1
    store.write("boot", str(home.boot))
    home.cause = board.reset_cause()
    log("I", "home", "boot %d, firmware %s, reset cause %s" % (home.boot, VERSION, home.cause))
    home.node_id = getattr(config, "NODE_ID", None) or board.default_node_id()
    key = unhexlify(config.NODE_KEY)
    home.signer = Signer(key)
    home.key_id = key_id(key)
    home.node_name = getattr(config, "NODE_NAME", None) or home.node_id
    home.board_name, home.mpy = board.BOARD, board.MPY  # for the announce; board is dropped
    home.last_n = home.n_reserved = store.read_int("n")
    home.last_sig = store.read("sig", "").encode()
    home.sensors = {}
    home.inbox = Inbox()
    home.inbox_event = asyncio.Event()
    home.replies = replies  # commands refused by the MQTT reader (busy)
    home.replies_event = asyncio.Event()
    home.unanswered = 0  # commands neither run nor answered: the reply ring was full
    home._oom = None  # where the last MemoryError was logged
    home.connected = asyncio.Event()  # set once on_connect has published everything
    home.status_led = StatusLED(home)
    home.wifi = WiFiManager(
        getattr(config, "WIFI_SSID", ""),
        getattr(config, "WIFI_PASSWORD", ""),
        log.src("wifi"),
        home._wifi_down,
    )
    home.mqtt = MQTTManager(config, home.node_id, log.src("mqtt"), home.wifi.up, home)
    home.cmd_topic = home.mqtt.topic("cmd")
    home.cmd_topic_bytes = home.cmd_topic.encode()
    home.config_topic = home.mqtt.topic("config/set")
    home.state_topic = home.mqtt.topic("state/")  # + a sensor's id, in one allocation
    home.refused_config = None  # (version, error) of a config/set too large for the inbox
    home.ota = ["idle", VERSION, 0, None]  # ota/status: state, version, progress, error
    home.trial = home.settle = False
    rare.call(UPDATE, "boot", home)  # dropped before the configuration is loaded
    home.safe_mode = _safe_mode(home, _crash_report(home))
    home.cfg = {"version": 0, "name": "", "telemetry_interval": 60, "log_level": "I", "sensors": []}


def _crash_report(home):
    """Log the traceback main.py left on the flash: one C line per line of it. Its last line,
    or None when the last boot did not crash."""
    last = None
    try:
        with open(store.path("crash.txt")) as f:
            home.log("C", "crash", "unhandled exception before boot %d:" % home.boot)
            for _ in range(_CRASH_LINES):
                line = f.readline(_LINE_MAX).rstrip()
                if not line:
                    break
                home.log("C", "crash", line)
                last = line
    except (OSError, MemoryError):
        return None
    store.remove("crash.txt")
    home.status_led.error(10)
    return last or "unknown"


def _safe_mode(home, crash):
    """Count the boots in a row that ended early in a crash or a watchdog reset (a planned
    reset writes `p`); after _SAFE_AFTER the node boots without peripherals. The reason, or
    None."""
    early = store.read("early", "0")
    crashed = early != "p" and (crash is not None or home.cause == "wdt")
    home.early = int(early) + 1 if crashed and early.isdigit() else 0
    store.write("early", str(home.early))
    if home.early < _SAFE_AFTER or home.trial:  # a trial has its own rollback
        return None
    reason = "%d boots in a row crashed within %d s; last: %s" % (
        home.early,
        STABLE_MS // 1000,
        crash or "watchdog reset",
    )
    home.log("E", "home", "safe mode, no peripherals: " + reason)
    return reason
