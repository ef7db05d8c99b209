"""The modules a node loads only for a rare moment (home/rare.py: the boot, a new configuration,
the commands other than `set` and `announce`, an update's checks, a message over the size limit)
are dropped after it; and when the heap has no room to load one, a signed command is still
answered (`busy`), the failure is logged once and the node runs on.

Real micropython and mosquitto. A module that cannot be loaded is made real: its file on the
node's flash is replaced by one that allocates more than the heap when it is imported."""

from typing import Any

from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import Observer, SimNode, next_n, wait_until
from tests.firmware.test_fuzz_firmware import answer, body_text

# Importing this fails with MemoryError in any heap a node runs in.
HOG = "HOG = bytearray(1 << 24)\n"
OTA = {
    "version": "1.3.0",
    "host": "127.0.0.1",
    "port": 2121,
    "user": "u",
    "password": "p",
    "path": "/1.3.0",
    "manifest_sha256": "0" * 64,
}


def hog(node: SimNode, module: str) -> None:
    """Importing home/<module> on the node's flash fails with MemoryError from now on."""
    app = node.state_dir / "flash" / "a" / "home"
    (app / f"{module}.mpy").unlink()
    (app / f"{module}.py").write_text(HOG)


def hogged_node(start_node: NodeFactory, observer: Observer, *modules: str) -> SimNode:
    """A node running CONFIG whose `modules` cannot be loaded (the firmware installed by a first
    start, then changed on its flash)."""
    node = start_node()
    node.set_hw(HARDWARE)
    online(observer, node)
    node.stop()
    for module in modules:
        hog(node, module)
    mark = observer.mark()
    node.start()
    online(observer, node, mark)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"), since=mark)["ok"] is True
    return node


def still_running(node: SimNode, observer: Observer, since: int) -> None:
    """The node answers a light command, and it has neither restarted nor reconnected since
    `since`."""
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
    assert observer.on(node.topic("status"), since) == []


def test_a_command_whose_module_cannot_be_loaded_is_answered_busy(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = hogged_node(start_node, observer, "commands")
    mark = observer.mark()
    commands: list[tuple[str, dict[str, Any]]] = [
        ("identify", {"seconds": 2}),
        ("reboot", {}),
        ("ota", OTA),
        ("scan", {"bus": "onewire", "pin": 22}),
    ]
    for cmd, fields in commands:
        since = observer.mark()
        n = node.command(observer, cmd, **fields)
        assert node.reply(observer, n, since) == {"n": n, "ok": False, "error": "busy"}, cmd
    assert node.console().count("out of memory in cmd") == 1  # logged once
    still_running(node, observer, mark)
    # `announce` is the node's own: it does not need the module
    since = observer.mark()
    n = node.command(observer, "announce")
    assert node.reply(observer, n, since)["ok"] is True


def test_an_oversize_command_is_answered_busy_when_its_checker_cannot_be_loaded(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = hogged_node(start_node, observer, "large")
    mark = observer.mark()
    for size in (3000, 20000):
        since = observer.mark()
        n = next_n()
        text = body_text({"n": n, "cmd": "announce", "pad": "x" * size})
        observer.publish(node.topic("cmd"), node.signed("cmd", text))
        assert answer(observer, node, "reply", since).json() == {
            "n": n,
            "ok": False,
            "error": "busy",
        }
    assert node.console().count("out of memory in large message") == 1
    still_running(node, observer, mark)


def test_a_node_that_cannot_load_its_connect_code_retries_and_connects_once_it_can(
    start_node: NodeFactory, observer: Observer
) -> None:
    """The MQTT client's connect is a rare module too: while it cannot be loaded the node stays
    offline and keeps trying (logged once, no reboot); once it loads, the node comes online
    without a reboot and takes a configuration and commands."""
    node = start_node()
    node.set_hw(HARDWARE)
    online(observer, node)
    node.stop()
    connect = node.state_dir / "flash" / "a" / "home" / "lib" / "mqtt_connect.mpy"
    compiled = connect.read_bytes()
    hog(node, "lib/mqtt_connect")
    start = len(node.console())
    mark = observer.mark()
    node.start()
    wait_until(lambda: "out of memory in connect" in node.console()[start:], 20, "no connect")
    assert observer.on(node.topic("status"), mark) == []
    connect.write_bytes(compiled)
    connect.with_suffix(".py").unlink()
    online(observer, node, mark, timeout=30)
    up = observer.mark()
    console = node.console()[start:]
    assert console.count("out of memory in connect") == 1  # logged once
    assert console.count("--- ") == 1  # its power on: no reboot
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"), since=up)["ok"] is True
    still_running(node, observer, up)


def mem_alloc(observer: Observer, node: SimNode, since: int, count: int = 3) -> int:
    """The smallest heap in use the node reports in its next `count` telemetry messages."""
    seen: list[int] = []
    while len(seen) < count:
        message = observer.wait(node.topic("telemetry"), since=since, timeout=20)
        seen.append(message.json()["mem_alloc"])
        since = message.index + 1
    return min(seen)


def test_a_configuration_without_the_memory_to_start_is_refused_and_the_old_one_runs(
    start_node: NodeFactory, observer: Observer
) -> None:
    """A valid configuration whose drivers meet a MemoryError while they start (here: a relay
    driver that cannot be loaded) is refused with the reason on config/state, and the one that
    ran before runs again, the motion sensor it had removed too; before, it was left half
    started and never answered. No reboot, no reconnect; a configuration that fits is run."""
    node = hogged_node(start_node, observer, "sensors/relay")
    mark = observer.mark()
    without_pir = [s for s in CONFIG["sensors"] if s["id"] != "pir"]
    relay = {"id": "pump", "type": "relay", "pin": 18}
    node.push_config(observer, CONFIG | {"version": 2, "sensors": [*without_pir, relay]})
    state = observer.wait_json(node.topic("config/state"), since=mark)
    assert state == {
        "version": 2,
        "ok": False,
        "errors": ["sensors: out of memory starting pump"],
    }
    # not removed (its retained state is not emptied): it runs on
    assert [m for m in observer.on(node.topic("state/pir"), mark) if not m.payload] == []
    since = observer.mark()
    node.set_hw({**HARDWARE, "16": 1})
    moved = observer.wait_json(node.topic("state/pir"), lambda s: s["motion"], 10, since)
    assert moved == {"motion": True}
    assert observer.on(node.topic("state/pump"), mark) == []
    still_running(node, observer, mark)
    since = observer.mark()
    node.push_config(observer, CONFIG | {"version": 3, "sensors": without_pir})
    assert observer.wait_json(node.topic("config/state"), since=since)["ok"] is True
    announce = observer.wait_json(node.topic("announce"), lambda a: a["cfg"] == 3, since=since)
    assert announce["cfg"] == 3


def test_rare_modules_are_dropped_after_use(configured: SimNode, observer: Observer) -> None:
    """After a new configuration, an `ota` refused, an identify and an oversize command the
    node's heap holds no more than before (their modules together are about 10 KB)."""
    node = configured
    before = mem_alloc(observer, node, observer.mark())
    mark = observer.mark()
    node.push_config(observer, CONFIG | {"version": 2, "name": "Pantry"})
    assert observer.wait_json(node.topic("config/state"), since=mark)["ok"] is True
    n = node.command(observer, "ota", **(OTA | {"port": 0}))
    assert node.reply(observer, n, mark)["error"] == "bad value: port"
    n = node.command(observer, "identify", seconds=1)
    assert node.reply(observer, n, mark)["ok"] is True
    n = next_n()
    text = body_text({"n": n, "cmd": "announce", "pad": "x" * 3000})
    observer.publish(node.topic("cmd"), node.signed("cmd", text))
    assert node.reply(observer, n, mark)["error"].startswith("too large")
    after = mem_alloc(observer, node, observer.mark())
    assert after - before < 2048, (before, after)
