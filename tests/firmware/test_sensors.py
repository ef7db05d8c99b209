"""Motion and DHT22 against the simulated hardware."""

import time

from tests.firmware.conftest import HARDWARE
from tests.firmware.harness import Observer, SimNode


def test_motion_edge_is_published_at_once_and_clears_after_off_delay(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    assert observer.wait_json(node.topic("state/pir")) == {"motion": False}
    for _ in range(2):
        mark = observer.mark()
        edge = time.monotonic()
        node.set_hw({**HARDWARE, "16": 1})
        on = observer.wait(node.topic("state/pir"), lambda m: m.json()["motion"], 2, mark)
        assert on.at - edge < 2
        node.set_hw({**HARDWARE, "16": 0})
        fell = time.monotonic()
        off = observer.wait(node.topic("state/pir"), lambda m: not m.json()["motion"], 4, on.index)
        assert off.at - fell >= 0.9  # off_delay is 1 s
    # motion again within off_delay keeps it on
    mark = observer.mark()
    node.set_hw({**HARDWARE, "16": 1})
    on = observer.wait(node.topic("state/pir"), lambda m: m.json()["motion"], 2, mark)
    node.set_hw({**HARDWARE, "16": 0})
    time.sleep(0.4)
    node.set_hw({**HARDWARE, "16": 1})
    time.sleep(1.5)
    assert [m.json() for m in observer.on(node.topic("state/pir"), on.index)] == [{"motion": True}]


def test_dht22_failure_publishes_an_error_then_recovers(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/climate"), lambda s: "temperature" in s)
    mark = observer.mark()
    node.set_hw({**HARDWARE, "15": {"fail": True}})
    error = observer.wait_json(node.topic("state/climate"), lambda s: "error" in s, 12, mark)
    assert error == {"error": "timeout"}
    assert not [
        m for m in observer.on(node.topic("state/climate"), mark) if "temperature" in m.json()
    ][1:]

    mark = observer.mark()
    node.set_hw({**HARDWARE, "15": {"fail": "checksum", "temperature": 1, "humidity": 1}})
    assert observer.wait_json(node.topic("state/climate"), lambda s: "error" in s, 12, mark) == {
        "error": "checksum"
    }
    mark = observer.mark()
    node.set_hw({**HARDWARE, "15": {"temperature": -3.25, "humidity": 99.9}})
    reading = observer.wait_json(node.topic("state/climate"), lambda s: "temperature" in s, 8, mark)
    assert reading == {"temperature": -3.2, "humidity": 99.9} or reading["temperature"] == -3.3
