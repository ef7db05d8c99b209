"""TLS between node and broker: a real mosquitto with a TLS listener and a CA made in the test.

The node must refuse a broker whose certificate does not chain to its CA, has expired or names
another host, say so in an `E` log line, retry with back-off, and never talk plaintext.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from microhome_tools.broker import Mosquitto
from microhome_tools.certs import CertificateAuthority
from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import BOARD_SIZED, Observer, SimNode, wait_until

# A TLS node holds its TLS context and socket (4.4 KB while connected) on top of a plain
# node's heap (README, "Measured": 76K instead of 72K with four sensors on a 32-bit build;
# the tests keep a margin).
TLS_HEAPSIZE = "80K" if BOARD_SIZED else "120K"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("certs")
    ca = CertificateAuthority(directory, "home-ca")
    other = CertificateAuthority(directory, "other-ca")
    return {
        "ca": ca.pem,
        "other_ca": other.pem,
        "good": ca.issue("broker", ["127.0.0.1", "localhost"]).cert,
        "good_key": directory / "broker.key",
        "named": ca.issue("named", ["broker.example"]).cert,
        "named_key": directory / "named.key",
        "expired": ca.issue("expired", ["127.0.0.1"], expired=True).cert,
        "expired_key": directory / "expired.key",
    }


@pytest.fixture
def mosquitto(
    tmp_path: Path, certs: dict[str, Path], request: pytest.FixtureRequest
) -> Iterator[Mosquitto]:
    """A broker with a plain listener (for the observer) and a TLS one (for the node),
    whose certificate is certs[request.param] (default: good)."""
    name = getattr(request, "param", "good")
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(workdir, tls=(certs[name], certs[f"{name}_key"])).start()
    yield broker
    broker.stop()


def tls_node(
    start_node: NodeFactory, broker: Mosquitto, ca: Path, *more: str, port: int | None = None
) -> SimNode:
    return start_node(
        extra=(
            "--broker", f"{broker.host}:{port or broker.tls_port}", "--mqtt-tls", "--ca", str(ca),
            "--heapsize", TLS_HEAPSIZE, *more,
        )
    )  # fmt: skip


def refusals(node: SimNode) -> list[str]:
    return re.findall(r"^.*\bE\b.*TLS to .* refused: .*$", node.console(), re.MULTILINE)


def broker_log(broker: Mosquitto) -> str:
    return (broker.workdir / "mosquitto.log").read_text(errors="replace")


def assert_refused(node: SimNode, broker: Mosquitto, reason: str) -> None:
    """Refused with reason in E lines, retried, and never connected (in TLS or plaintext)."""
    lines = wait_until(lambda: len(refusals(node)) >= 3 and refusals(node), 40, "three refusals")
    assert all(reason in line for line in lines), lines
    console = node.console()
    assert re.search(r"connect to .* failed .*retry in \d+ ms", console), console[-2000:]
    assert "connected to" not in console
    assert f"as {node.node_id} " not in broker_log(broker)


def test_node_over_tls_announces_takes_a_signed_config_and_a_command(
    start_node: NodeFactory, observer: Observer, mosquitto: Mosquitto, certs: dict[str, Path]
) -> None:
    node = tls_node(start_node, mosquitto, certs["ca"])
    node.set_hw(HARDWARE)
    online(observer, node, timeout=30)
    announce = observer.wait_json(node.topic("announce"))
    assert announce["id"] == node.node_id
    # it came in on the TLS listener: the only port the node was given
    assert re.search(
        rf"New connection from 127\.0\.0\.1:\d+ on port {mosquitto.tls_port}", broker_log(mosquitto)
    )
    assert f"as {node.node_id} " in broker_log(mosquitto)
    config = (node.state_dir / "flash" / "config.py").read_text()
    assert "MQTT_TLS = True" in config
    assert "MQTT_CA = 'ca.pem'" in config
    assert (node.state_dir / "flash" / "ca.pem").read_bytes() == certs["ca"].read_bytes()

    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state")) == {
        "version": 1,
        "ok": True,
        "errors": [],
    }
    # A new light starts off; its state follows config/state.
    assert observer.wait_json(node.topic("state/lamp")) == {"on": False, "brightness": 0}
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True, brightness=255)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
    assert observer.wait_json(node.topic("state/lamp"), since=mark) == {
        "on": True,
        "brightness": 255,
    }
    assert not refusals(node)


def test_broker_certificate_from_another_ca_is_refused(
    start_node: NodeFactory, mosquitto: Mosquitto, certs: dict[str, Path]
) -> None:
    node = tls_node(start_node, mosquitto, certs["other_ca"])
    assert_refused(node, mosquitto, "not correctly signed by the trusted CA")


@pytest.mark.parametrize("mosquitto", ["named"], indirect=True)
def test_certificate_for_another_host_name_is_refused_and_server_name_accepts_it(
    start_node: NodeFactory, observer: Observer, mosquitto: Mosquitto, certs: dict[str, Path]
) -> None:
    wrong = tls_node(start_node, mosquitto, certs["ca"])
    assert_refused(wrong, mosquitto, "does not match with the expected CN")
    right = start_node(
        "kitchen-2",
        extra=(
            "--broker", f"127.0.0.1:{mosquitto.tls_port}", "--mqtt-tls", "--ca", str(certs["ca"]),
            "--server-name", "broker.example", "--key", "11" * 32, "--heapsize", TLS_HEAPSIZE,
        ),
    )  # fmt: skip
    online(observer, right, timeout=30)


@pytest.mark.parametrize("mosquitto", ["expired"], indirect=True)
def test_expired_broker_certificate_is_refused(
    start_node: NodeFactory, mosquitto: Mosquitto, certs: dict[str, Path]
) -> None:
    node = tls_node(start_node, mosquitto, certs["ca"])
    assert_refused(node, mosquitto, "validity has expired")


def test_tls_node_never_falls_back_to_plaintext(
    start_node: NodeFactory, mosquitto: Mosquitto, certs: dict[str, Path]
) -> None:
    """Pointed at the broker's plaintext port, the node refuses it rather than talk plaintext."""
    node = tls_node(start_node, mosquitto, certs["ca"], port=mosquitto.port)
    wait_until(lambda: len(refusals(node)) >= 2, 40, "two refusals")
    assert f"as {node.node_id} " not in broker_log(mosquitto)
    assert "connected to" not in node.console()
