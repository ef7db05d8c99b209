"""The broker ACL of docs/security.md on a real mosquitto, with real firmware nodes.

Each node logs in as a user named after its node id and may use only `microhome/<id>/`;
another node's login that publishes or subscribes there is refused by the broker.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from microhome_tools.broker import HA_USER, NODE_ACL, Mosquitto
from microhome_tools.common import node_key
from tests.firmware.conftest import CONFIG, HARDWARE, online
from tests.firmware.harness import Observer, SimNode, wait_until

NODE_A = "mh-a1b2c3"
NODE_B = "mh-d4e5f6"
PASSWORDS = {HA_USER: "ha-secret", NODE_A: "a-secret", NODE_B: "b-secret"}
NOT_AUTHORIZED = 135


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    mosquitto = Mosquitto(tmp_path / "broker", users=PASSWORDS).start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def home(broker: Mosquitto) -> Iterator[Observer]:
    """Home Assistant's side: the HA login, which may use every topic."""
    watcher = Observer(broker.host, broker.port, login=(HA_USER, PASSWORDS[HA_USER]))
    yield watcher
    watcher.close()


@pytest.fixture
def nodes(
    broker: Mosquitto, vectors: dict[str, Any], tmp_path: Path
) -> Iterator[dict[str, SimNode]]:
    fleet_key = bytes.fromhex(vectors["keys"]["fleet_key"])
    started = {
        node_id: SimNode(
            (broker.host, broker.port),
            tmp_path / node_id,
            node_id,
            node_key(fleet_key, node_id).hex(),
            extra=("--mqtt-user", node_id, "--mqtt-password", PASSWORDS[node_id]),
        )
        for node_id in (NODE_A, NODE_B)
    }
    for node in started.values():
        node.state_dir.mkdir(parents=True)
        node.set_hw(HARDWARE)
        node.start()
    yield started
    for node in started.values():
        node.stop()


class Intruder:
    """An MQTT 5 client, so the broker's refusals come back as reason codes."""

    def __init__(self, broker: Mosquitto, user: str, password: str, client_id: str) -> None:
        self.published: dict[int, ReasonCode] = {}
        self.subscribed: list[ReasonCode] = []
        self.received: list[str] = []
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5
        )
        self.client.username_pw_set(user, password)
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, message: self.received.append(message.topic)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.subscribed.extend(codes)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_publish(self, _c: Any, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        self.published[mid] = code

    def publish(self, topic: str, payload: str, retain: bool = False) -> ReasonCode:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return wait_until(lambda: self.published.get(info.mid), 10, f"PUBACK for {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_each_node_only_reaches_its_own_topics(
    broker: Mosquitto, home: Observer, nodes: dict[str, SimNode]
) -> None:
    node_a, node_b = nodes[NODE_A], nodes[NODE_B]
    for node in (node_a, node_b):
        online(home, node)

    # Under the ACL a node works as usual: configuration, commands, states.
    for node in (node_a, node_b):
        n, _ = node.push_config(home, CONFIG)
        state = home.wait_json(node.topic("config/state"), lambda body: body["version"] == 1)
        assert state["ok"], state
    n = node_a.command(home, "set", id="lamp", on=True, brightness=99)
    assert node_a.reply(home, n)["ok"]
    home.wait_json(node_a.topic("state/lamp"), lambda body: body == {"on": True, "brightness": 99})

    # Node B's login may not touch node A's topics.
    before = home.mark()
    assert_refused(broker, node_a, node_b, client_id="intruder")
    # Of all that went to node A's topics, Home Assistant saw only the command the test sent.
    seen = home.messages[before:]
    forged = ("state/lamp", "status", "announce")
    assert not [m for m in seen if m.topic in [node_a.topic(s) for s in forged]]
    assert not [m for m in seen if m.topic == "microhome/discover"]
    commands = [m.payload.split(b" ", 1)[1] for m in seen if m.topic == node_a.topic("cmd")]
    assert [json.loads(body)["cmd"] for body in commands] == ["identify"]
    # Node A is untouched: it still answers, its retained state and status are its own.
    n = node_a.command(home, "set", id="lamp", on=True, brightness=42)
    assert node_a.reply(home, n)["ok"]
    assert retained(broker, node_a) == ({"on": True, "brightness": 42}, b"online")

    # The ACL goes by login (%u), not by client id (%c), which a client chooses itself: with
    # node A away, node B's login under node A's client id is refused all the same.
    node_a.stop()
    assert_refused(broker, node_a, node_b, client_id=NODE_A)
    assert retained(broker, node_a)[0] == {"on": True, "brightness": 42}


def assert_refused(broker: Mosquitto, node_a: SimNode, node_b: SimNode, client_id: str) -> None:
    """Node B's login publishing and subscribing on node A's topics: refused by the broker."""
    intruder = Intruder(broker, NODE_B, PASSWORDS[NODE_B], client_id)
    try:
        wait_until(intruder.client.is_connected, 10, "the intruder's connection")
        refused = [
            intruder.publish(node_a.topic("state/lamp"), '{"on": false, "brightness": 0}', True),
            intruder.publish(node_a.topic("status"), "offline", True),
            intruder.publish(node_a.topic("announce"), '{"id": "mh-a1b2c3"}', True),
            intruder.publish(node_a.topic("cmd"), node_a.signed("cmd", {"n": 1, "cmd": "reboot"})),
            intruder.publish("microhome/discover", ""),
        ]
        assert [code.value for code in refused] == [NOT_AUTHORIZED] * len(refused)
        # mosquitto grants the subscription but delivers nothing it may not read, not even
        # the retained messages; see the end of this function.
        intruder.client.subscribe(f"microhome/{NODE_A}/#", qos=1)
        wait_until(lambda: intruder.subscribed or None, 10, "SUBACK")
        # Its own node's topics it may use.
        assert intruder.publish(node_b.topic("telemetry"), "{}").value == 0
        if node_a.process is not None:
            home = Observer(broker.host, broker.port, login=(HA_USER, PASSWORDS[HA_USER]))
            try:
                n = node_a.command(home, "identify", seconds=1)
                assert node_a.reply(home, n)["ok"]
            finally:
                home.close()
        intruder.client.subscribe(f"microhome/{NODE_B}/#", qos=1)
        wait_until(lambda: intruder.received or None, 10, "node B's retained messages")
        assert all(topic.startswith(node_b.prefix) for topic in intruder.received)
    finally:
        intruder.close()


def retained(broker: Mosquitto, node: SimNode) -> tuple[Any, bytes]:
    """Node's retained lamp state and status, as a new Home Assistant client gets them."""
    fresh = Observer(broker.host, broker.port, login=(HA_USER, PASSWORDS[HA_USER]))
    try:
        lamp = fresh.wait_json(node.topic("state/lamp"))
        return lamp, fresh.wait(node.topic("status")).payload
    finally:
        fresh.close()


def test_no_login_no_access(broker: Mosquitto) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    codes: list[ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, code, _p: codes.append(code)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        wait_until(lambda: codes or None, 10, "CONNACK")
        assert codes[0].is_failure
    finally:
        client.loop_stop()


def test_documented_acl_is_the_tested_one() -> None:
    security = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert NODE_ACL.format(ha_user=HA_USER) in security
