"""The node client on its own: no Home Assistant, MQTT as two plain callables."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from custom_components.microhome import protocol
from custom_components.microhome.client import (
    Change,
    CommandRefused,
    Message,
    NodeClient,
    NodeOffline,
    NoReply,
    Router,
)

NODE = "mh-a1b2c3"
KEY = bytes(range(32))
CONFIG: dict[str, Any] = {
    "version": 7,
    "name": "Kitchen",
    "telemetry_interval": 60,
    "log_level": "I",
    "sensors": [
        {"id": "climate", "type": "dht22", "name": "Climate", "pin": 15},
        {"id": "lamp", "type": "led", "name": "Lamp", "pin": 14, "freq": 1000},
    ],
}


@dataclass
class Msg:
    topic: str
    payload: str | bytes
    retain: bool = False


class Broker:
    """Subscriptions by exact topic or one `+` level, and what was published."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.sent: list[tuple[str, str, int, bool]] = []
        self.answer: dict[str, Any] | None = None

    async def publish(self, topic: str, payload: str, qos: int, retain: bool) -> None:
        self.sent.append((topic, payload, qos, retain))
        if topic.endswith("/cmd") and self.answer is not None:
            n = json.loads(payload.split(" ", 1)[1])["n"]
            reply = json.dumps({"n": n, "error": None} | self.answer)
            asyncio.get_running_loop().call_soon(self.deliver, f"microhome/{NODE}/reply", reply)

    async def subscribe(self, topic: str, handler: Any) -> Any:
        self.handlers[topic] = handler
        return lambda: self.handlers.pop(topic)

    def deliver(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        message: Message = Msg(topic, payload, retain)
        for pattern, handler in list(self.handlers.items()):
            parts, wanted = topic.split("/"), pattern.split("/")
            if len(parts) == len(wanted) and all(
                w in ("+", p) for p, w in zip(parts, wanted, strict=True)
            ):
                handler(message)


def make_client(broker: Broker, config: dict[str, Any] | None = None) -> NodeClient:
    stored = dict(CONFIG if config is None else config)
    return NodeClient(
        NODE,
        KEY,
        broker.publish,
        broker.subscribe,
        config=lambda: stored,
        last_n={},
    )


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_routing_parsing_and_typed_listeners() -> None:
    async def scenario() -> None:
        broker = Broker()
        client = make_client(broker)
        await client.start()
        seen: list[str] = []
        client.listen(Change.STATE, lambda: seen.append("climate"), "climate")
        client.listen(Change.STATE, lambda: seen.append("lamp"), "lamp")
        client.listen(Change.AVAILABILITY, lambda: seen.append("availability"))
        broker.deliver(f"microhome/{NODE}/status", "online", retain=True)
        client.set_connected(True)
        assert client.available
        broker.deliver(f"microhome/{NODE}/state/lamp", '{"on": true, "brightness": 9}')
        broker.deliver(f"microhome/{NODE}/state/climate", '{"temperature": 1, "humidity": 2}')
        assert client.states["lamp"].values == {"on": True, "brightness": 9}
        assert client.states["climate"].values == {"temperature": 1.0, "humidity": 2.0}
        assert seen == ["availability", "availability", "lamp", "climate"]
        # Hostile payloads are dropped and change nothing.
        for payload in ("NaN", '{"on": "x"}', "\ud800", "x" * 20000, '{"temperature": 1e999}'):
            broker.deliver(f"microhome/{NODE}/state/lamp", payload)
        broker.deliver(f"microhome/{NODE}/state/ghost", '{"on": true}')
        assert client.states["lamp"].values == {"on": True, "brightness": 9}
        assert seen[-1] == "climate"
        client.stop()
        assert broker.handlers == {}

    run(scenario())


def test_n_grows_and_is_shared() -> None:
    broker = Broker()
    last_n = {NODE: 10**15}
    client = NodeClient(
        NODE, KEY, broker.publish, broker.subscribe, config=lambda: CONFIG, last_n=last_n
    )
    first, second = client.next_n(), client.next_n()
    assert first == 10**15 + 1 and second == first + 1
    assert last_n[NODE] == second


def test_commands_matched_to_replies() -> None:
    async def scenario() -> None:
        broker = Broker()
        client = make_client(broker)
        await client.start()
        with pytest.raises(NodeOffline):
            await client.command("reboot", 0.2)
        assert broker.sent == []
        broker.deliver(f"microhome/{NODE}/status", "online")
        client.set_connected(True)
        broker.answer = {"ok": True}
        reply = await client.command("set", 0.5, id="lamp", on=True, brightness=None)
        topic, payload, qos, retain = broker.sent[-1]
        body = protocol.verify(client.key, topic, payload)
        assert (body["n"], body["cmd"], body["id"], body["on"]) == (reply.n, "set", "lamp", True)
        assert "brightness" not in body and (qos, retain) == (1, False)
        broker.answer = {"ok": False, "error": "busy"}
        with pytest.raises(CommandRefused, match="busy"):
            await client.command("reboot", 0.5)
        broker.answer = None
        with pytest.raises(NoReply):
            await client.command("reboot", 0.05)
        # A late or unknown reply is ignored.
        broker.deliver(f"microhome/{NODE}/reply", '{"n": 1, "ok": true, "error": null}')

    run(scenario())


def test_config_pushed_when_the_node_runs_an_older_one() -> None:
    async def scenario() -> None:
        broker = Broker()
        client = make_client(broker)
        await client.start()
        announce = {
            "id": NODE, "name": "Kitchen", "platform": "rp2", "board": "Pico W", "fw": "1.0.0",
            "mpy": "1.24.0", "mac": "", "ip": "", "caps": [], "cfg": 3, "key_id": client.key_id,
        }  # fmt: skip
        broker.deliver(f"microhome/{NODE}/announce", json.dumps(announce), retain=True)
        await asyncio.sleep(0)
        topic, payload, qos, retain = broker.sent[-1]
        assert (topic, qos, retain) == (f"microhome/{NODE}/config/set", 1, True)
        body = protocol.verify(client.key, topic, payload)
        assert body["version"] == 7
        assert body["sensors"][0] == {"id": "climate", "type": "dht22", "pin": 15, "interval": 30}
        assert client.config_pending
        broker.deliver(f"microhome/{NODE}/config/state", '{"version": 7, "ok": true, "errors": []}')
        assert not client.config_pending
        await client.config_changed()  # the same version: nothing sent again
        assert len(broker.sent) == 1
        client.stop()

    run(scenario())


def test_config_sent_again_once_a_node_back_from_a_power_cut_takes_it() -> None:
    """A node back from a power cut drops every `n` up to a minute past the last it accepted;
    the configuration is sent once more when that minute has passed, then never again."""

    async def scenario() -> None:
        broker = Broker()
        client = make_client(broker)
        await client.start()
        broker.deliver(f"microhome/{NODE}/status", "online", retain=True)
        client.set_connected(True)
        announce = {
            "id": NODE, "name": "Kitchen", "platform": "rp2", "board": "Pico W", "fw": "1.0.0",
            "mpy": "1.24.0", "mac": "", "ip": "", "caps": [], "cfg": 3, "key_id": client.key_id,
        }  # fmt: skip
        # Nothing was sent to this node before: the minute is over, it is sent again in 1 s.
        broker.deliver(f"microhome/{NODE}/announce", json.dumps(announce))
        await asyncio.sleep(0.2)
        assert len(broker.sent) == 1  # the node drops it: no config/state comes
        await asyncio.sleep(1.0)
        assert len(broker.sent) == 2
        first, again = (protocol.verify(client.key, t, p) for t, p, _, _ in broker.sent)
        assert again["version"] == first["version"] == 7 and again["n"] > first["n"]
        broker.deliver(f"microhome/{NODE}/config/state", '{"version": 7, "ok": true, "errors": []}')
        broker.deliver(f"microhome/{NODE}/announce", json.dumps(announce | {"cfg": 7}))
        await asyncio.sleep(1.2)
        assert len(broker.sent) == 2  # it runs version 7: nothing more
        client.stop()

    run(scenario())


def test_router_hands_each_node_its_own_messages_and_what_came_before() -> None:
    """One subscription per kind for all nodes: the router dispatches by topic and replays
    the last retained message of each topic to a node that starts later."""

    async def scenario() -> None:
        router = Router()

        async def subscribe(topic: str, handler: Any) -> Any:
            return router.subscribe(topic, handler)

        def deliver(topic: str, payload: str | bytes) -> None:
            router.dispatch(Msg(topic, payload))

        huge = json.dumps({"temperature": 1.0, "pad": "x" * protocol.MAX_PAYLOAD_BYTES})
        deliver(f"microhome/{NODE}/status", "online")
        deliver(f"microhome/{NODE}/state/climate", '{"temperature": 20.5, "humidity": 40}')
        deliver(f"microhome/{NODE}/state/lamp", '{"on": true, "brightness": 9}')
        deliver(f"microhome/{NODE}/state/lamp", "")  # the retained state emptied: forgotten
        deliver(f"microhome/{NODE}/telemetry", json.dumps({"uptime": 5}))  # not retained
        deliver("microhome/other/status", "offline")
        deliver(f"microhome/{NODE}/state/climate/x", "{}")  # not a state topic

        async def started() -> NodeClient:
            client = NodeClient(
                NODE, KEY, Broker().publish, subscribe, config=lambda: CONFIG, last_n={}
            )
            await client.start()
            return client

        client = await started()
        assert client.online
        assert client.states["climate"].values == {"temperature": 20.5, "humidity": 40}
        assert set(client.states) == {"climate"}
        assert client.telemetry is None
        deliver(f"microhome/{NODE}/state/climate", huge)  # too big: dropped, and not kept
        deliver("microhome/other/status", "online")
        assert client.online
        assert client.states["climate"].values["temperature"] == 20.5
        client.stop()
        assert router.idle
        later = await started()
        assert later.online
        assert "climate" not in later.states  # the last message on it was too big to keep
        later.stop()
        router.clear()
        again = await started()
        assert not again.online

    run(scenario())


def test_router_keeps_a_bounded_amount_of_retained_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker client inventing node and peripheral ids cannot make Home Assistant keep an
    unbounded number of retained messages; what was kept before still reaches its node."""
    router = Router()
    router.dispatch(Msg(f"microhome/{NODE}/status", "online", retain=True))
    payload = json.dumps({"temperature": 1.0, "pad": "x" * 200})
    flood = router.KEPT_BYTES_MAX // (len(payload) + router.KEPT_OVERHEAD) + 5_000
    for i in range(flood):
        router.dispatch(Msg(f"microhome/mh-{i:06x}/state/p{i % 50}", payload, retain=True))
    for i in range(5_000):  # not node ids: never kept
        router.dispatch(Msg(f"microhome/NOT A NODE {i}/status", "online", retain=True))
    assert router.kept_bytes <= router.KEPT_BYTES_MAX
    assert caplog.text.count("Retained MicroHome messages take more than") == 1
    seen: list[str] = []
    router.subscribe(f"microhome/{NODE}/status", lambda msg: seen.append(str(msg.payload)))
    assert seen == ["online"]
    router.clear()
    assert router.kept_bytes == 0
