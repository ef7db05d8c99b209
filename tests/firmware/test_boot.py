"""A fresh node boots, comes online and tells Home Assistant who it is."""

import time
from typing import Any

from custom_components.microhome import catalogue
from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import Observer

FIRMWARE_VERSION = "0.1.0"


def test_boot_publishes_online_announce_telemetry_and_logs(
    start_node: NodeFactory, observer: Observer, vectors: dict[str, Any]
) -> None:
    node = start_node()
    status = observer.wait(node.topic("status"), lambda m: m.payload == b"online", 15)
    assert status.retain is False  # a live publish; the broker keeps it retained

    announce = observer.wait_json(node.topic("announce"))
    assert announce == {
        "id": "mh-a1b2c3",
        "name": "mh-a1b2c3",
        "platform": "rp2",
        "board": announce["board"],
        "fw": FIRMWARE_VERSION,
        "mpy": announce["mpy"],
        "mac": announce["mac"],
        "ip": "127.0.0.1",
        "caps": list(catalogue.TYPES),  # every type of the catalogue, in its order
        "cfg": 0,
        "key_id": vectors["keys"]["key_id"],
    }
    assert "Pico W" in announce["board"]
    assert announce["mpy"].count(".") == 2
    assert len(announce["mac"].split(":")) == 6

    telemetry = observer.wait_json(node.topic("telemetry"))
    assert telemetry["reset_cause"] == "power_on"
    assert telemetry["boot"] == 1
    assert telemetry["mem_free"] > 0
    assert telemetry["mem_alloc"] > 0
    assert isinstance(telemetry["uptime"], int)
    assert telemetry["rssi"] == -55

    log = observer.wait_json(node.topic("log"))
    assert log["boot"] == 1
    first = log["entries"][0]
    assert first["seq"] == 0
    assert first["lvl"] == "I"
    assert "boot 1" in first["msg"]

    ota = observer.wait_json(node.topic("ota/status"))
    assert ota == {"state": "idle", "version": FIRMWARE_VERSION, "progress": 0, "error": None}


def test_esp32_node_announces_its_platform(start_node: NodeFactory, observer: Observer) -> None:
    node = start_node(platform="esp32")
    announce = observer.wait_json(node.topic("announce"), timeout=15)
    assert announce["platform"] == "esp32"
    assert "ESP32" in announce["board"]


def test_discover_and_home_assistant_online_trigger_announce(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node()
    online(observer, node)
    observer.wait(node.topic("announce"))
    for topic, payload in (("microhome/discover", "hello"), ("homeassistant/status", "online")):
        mark = observer.mark()
        observer.publish(topic, payload, qos=0)
        message = observer.wait(node.topic("announce"), since=mark, timeout=5)
        assert message.json()["id"] == node.node_id
        # and its telemetry, for the diagnostics of a node Home Assistant has just added
        telemetry = observer.wait(node.topic("telemetry"), since=mark, timeout=5)
        assert telemetry.json()["uptime"] >= 0

    mark = observer.mark()
    observer.publish("homeassistant/status", "offline", qos=0)
    time.sleep(2.5)  # an announce would come within 2 s
    assert observer.on(node.topic("announce"), mark) == []
