"""A seeded fuzz run on the real firmware over `cmd` and `config/set`.

Unsigned payloads, wrong signatures, replayed `n`, valid signatures over malformed bodies
and oversize payloads, one at a time: the node keeps running, answers every `cmd` on `reply`
(refusals with `ok: false`), logs every dropped `config/set` and answers every signed one on
`config/state`, and still works afterwards.
"""

import json
from typing import Any

import pytest
from hypothesis import strategies as st

from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import (
    HEAPSIZE,
    OTA_HEAPSIZE,
    Message,
    Observer,
    SimNode,
    next_n,
    wait_until,
)
from tests.strategies import examples, json_values, mutations

WRONG_KEY = bytes(range(100, 132))
COMMAND_ERRORS = {
    "unknown command",
    "unknown sensor",
    "not a light",
    "bad value: on",
    "bad value: brightness",
    "bad value: transition",
    "bad value: seconds",
}
# Neither a reboot nor an update in the middle of the run; both have their own tests.
SLOW_COMMANDS = ("reboot", "ota")

commands = st.one_of(
    mutations({"cmd": "set", "id": "lamp", "on": True, "brightness": 128, "transition": 0.2}),
    mutations({"cmd": "identify", "seconds": 1}),
    mutations({"cmd": "announce"}),
    st.dictionaries(st.sampled_from(["cmd", "id", "on", "x"]), json_values, max_size=4),
).filter(lambda body: body.get("cmd") not in SLOW_COMMANDS)
configs = st.one_of(
    mutations({k: v for k, v in CONFIG.items() if k != "version"} | {"version": 1}),
    st.sampled_from(CONFIG["sensors"])
    .flatmap(mutations)
    .map(lambda sensor: CONFIG | {"sensors": [sensor]}),
    st.dictionaries(st.sampled_from(["version", "name", "sensors", "x"]), json_values),
)
# How a case is sent: (kind, body or raw payload).
CASES = st.one_of(
    st.tuples(st.just("unsigned"), st.one_of(st.binary(max_size=100), json_values)),
    st.tuples(st.just("wrong_key"), commands),
    st.tuples(st.just("replayed"), commands),
    st.tuples(st.just("bad_n"), st.tuples(commands, json_values)),
    st.tuples(st.just("signed"), commands),
)


def body_text(body: Any) -> str:
    """body as JSON text; a value JSON cannot carry (NaN) is sent the way Python writes it."""
    return json.dumps(body)


def payload_for(node: SimNode, suffix: str, kind: str, value: Any, last_n: int) -> bytes:
    """The payload of one case; value is its body (or raw bytes for an unsigned case)."""
    if kind == "unsigned":
        return value if isinstance(value, bytes) else body_text(value).encode()
    if kind == "bad_n":
        body, n = value
        return node.signed(suffix, body_text({**body, "n": n})).encode()
    n = last_n if kind == "replayed" else next_n()
    text = body_text({**value, "n": n})
    key = WRONG_KEY if kind == "wrong_key" else None
    return node.signed(suffix, text, key).encode()


def answer(observer: Observer, node: SimNode, suffix: str, since: int) -> Message:
    """The node's answer; it takes well under a second, 5 s is plenty on a busy machine."""
    return observer.wait(node.topic(suffix), since=since, timeout=5)


def assert_alive(node: SimNode, observer: Observer) -> None:
    assert node.process is not None
    assert node.process.poll() is None, node.console()[-3000:]
    statuses = observer.on(node.topic("status"))
    assert statuses[-1].payload == b"online", node.console()[-3000:]


HEAPS = [HEAPSIZE, OTA_HEAPSIZE]


@pytest.fixture
def fuzz_node(start_node: NodeFactory, observer: Observer, heapsize: str) -> SimNode:
    """A node running CONFIG with HARDWARE attached, with `heapsize`."""
    node = start_node(extra=("--heapsize", heapsize))
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    return node


@pytest.mark.parametrize("heapsize", HEAPS)
def test_fuzzed_commands_are_all_answered(fuzz_node: SimNode, observer: Observer) -> None:
    node = fuzz_node
    last_n = node.reply(observer, node.command(observer, "announce"))["n"]
    findings: list[str] = []
    for kind, value in examples(CASES, 80):
        payload = payload_for(node, "cmd", kind, value, last_n)
        mark = observer.mark()
        observer.publish(node.topic("cmd"), payload)
        try:
            reply = answer(observer, node, "reply", mark).json()
        except AssertionError:
            findings.append(f"no reply to {kind} cmd ({len(payload)} bytes): {payload[:700]!r}")
            assert_alive(node, observer)
            continue
        if kind in ("unsigned", "wrong_key"):
            assert reply["error"] == "bad signature", (kind, value, reply)
        elif kind == "replayed":
            assert (reply["n"], reply["error"]) == (last_n, "replayed n"), reply
        elif kind == "bad_n":
            assert not reply["ok"], (value, reply)
        elif reply["ok"]:
            last_n = reply["n"]
        else:
            assert reply["error"] in COMMAND_ERRORS | {"bad value: n"}, (value, reply)
            if reply["error"] != "bad value: n":
                last_n = reply["n"]
        assert_alive(node, observer)
    assert not findings, findings
    # Afterwards the node works as before.
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True, brightness=77)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
    assert observer.wait_json(node.topic("state/lamp"), since=mark)["brightness"] == 77


@pytest.mark.parametrize("suffix", ["cmd", "config/set"])
def test_oversize_payload_is_answered(configured: SimNode, observer: Observer, suffix: str) -> None:
    """A signed payload far over any limit: read past with its signature and `n` checked on
    the way, refused `too large` with an answer, the node stays online and works."""
    node = configured
    topic = "reply" if suffix == "cmd" else "config/state"
    # A decoy "n" inside a string and one nested deeper: only the top-level one counts.
    decoy = '"n": 1, \\"n\\": 2 '
    for size in (17_000, 70_000):
        mark = observer.mark()
        n = next_n()
        if suffix == "cmd":
            body = {"n": n, "cmd": "announce", "pad": decoy + "x" * size}
        else:
            body = CONFIG | {"version": 2, "name": decoy + "x" * size, "x": {"n": 3}, "n": n}
        payload = node.signed(suffix, body_text(body)).encode()
        observer.publish(node.topic(suffix), payload, retain=suffix != "cmd")
        got = answer(observer, node, topic, mark).json()
        error = f"too large: {len(payload)} bytes, the limit is 2048"
        if suffix == "cmd":
            assert got == {"n": n, "ok": False, "error": error}
        else:
            assert got == {"version": 2, "ok": False, "errors": [error]}
        assert_alive(node, observer)
    # Refused as any signed message is: a wrong key, a replayed n.
    pad = "x" * 5000
    if suffix == "config/set":
        observer.publish(node.topic(suffix), b"", retain=True)  # ignored by the node
    else:
        mark = observer.mark()
        text = body_text({"n": next_n(), "cmd": "announce", "pad": pad})
        observer.publish(node.topic("cmd"), node.signed("cmd", text, WRONG_KEY))
        assert answer(observer, node, "reply", mark).json()["error"] == "bad signature"
        mark = observer.mark()
        observer.publish(node.topic("cmd"), node.signed("cmd", body_text({"n": n, "pad": pad})))
        assert answer(observer, node, "reply", mark).json() == {
            "n": n,
            "ok": False,
            "error": "replayed n",
        }
    # The applied configuration still runs, and commands work.
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True, brightness=77)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
    assert observer.wait_json(node.topic("state/lamp"), since=mark)["brightness"] == 77


def log_lines(observer: Observer, node: SimNode, since: int) -> list[str]:
    return [
        entry["msg"]
        for message in observer.on(node.topic("log"), since)
        for entry in message.json()["entries"]
    ]


@pytest.mark.parametrize("heapsize", HEAPS)
def test_fuzzed_configurations_change_nothing_when_refused(
    fuzz_node: SimNode, observer: Observer
) -> None:
    node = fuzz_node
    CONFIG_CASES = st.one_of(
        st.tuples(st.just("unsigned"), st.one_of(st.binary(min_size=1, max_size=100), configs)),
        st.tuples(st.sampled_from(["wrong_key", "replayed", "signed"]), configs),
    )
    last_n = 0
    version = 1
    findings: list[str] = []
    for kind, value in examples(CONFIG_CASES, 60):
        payload = payload_for(node, "config/set", kind, value, last_n)
        mark = observer.mark()
        observer.publish(node.topic("config/set"), payload, retain=True)
        if kind in ("unsigned", "wrong_key", "replayed"):
            reason = "bad signature" if kind != "replayed" else "replayed n"
            try:
                wait_until(
                    lambda line=f"config/set dropped: {reason}", since=mark: (
                        line in log_lines(observer, node, since) or None
                    ),
                    15,
                    f"the node's log line for a {kind} config/set",
                )
            except AssertionError:
                findings.append(f"no log line for a dropped {kind} config/set")
            assert not observer.on(node.topic("config/state"), mark), (kind, value)
        else:
            try:
                state = answer(observer, node, "config/state", mark).json()
            except AssertionError:
                findings.append(f"no config/state for a {kind} config/set ({len(payload)} bytes)")
                assert_alive(node, observer)
                continue
            body = json.loads(payload[65:])
            last_n = body["n"]
            if state["ok"]:
                version = state["version"]
            else:
                assert state["errors"], state
        assert_alive(node, observer)
    assert not findings, findings
    # Afterwards a good configuration is applied and works.
    mark = observer.mark()
    node.push_config(observer, CONFIG | {"version": version + 1})
    state = observer.wait_json(node.topic("config/state"), since=mark)
    assert state == {"version": version + 1, "ok": True, "errors": []}
    online(observer, node)
    n = node.command(observer, "set", id="lamp", on=True, brightness=66)
    assert node.reply(observer, n, mark)["ok"]
