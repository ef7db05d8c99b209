"""`microhome flash` against the real mpremote and a real micropython behind a pseudo-terminal."""

import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools import flash
from microhome_tools.certs import CertificateAuthority

RAW_REPL = Path(__file__).with_name("raw_repl.py")


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A 'board': micropython's raw REPL on a pseudo-terminal, its files in a directory."""
    flash_root = tmp_path / "board"
    flash_root.mkdir()
    device = str(tmp_path / "ttyMH0")
    micropython = shutil.which("micropython")
    socat = subprocess.Popen(
        [
            "socat",
            f"PTY,link={device},raw,echo=0",
            f"EXEC:{micropython} {RAW_REPL},pty,raw,echo=0",
        ],
        cwd=flash_root,
    )
    deadline = time.monotonic() + 10
    while not Path(device).exists():
        assert time.monotonic() < deadline, "socat made no pseudo-terminal"
        time.sleep(0.05)
    yield flash_root, device
    socat.terminate()
    socat.wait(5)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "microhome_tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_flash_copies_verified_firmware_and_a_config_with_the_node_key(
    board: tuple[Path, str], vectors: dict[str, Any]
) -> None:
    flash_root, device = board
    keys = vectors["keys"]
    result = run_cli(
        "flash", "--port", device, "--wifi-ssid", "home", "--wifi-password", "pw 'quoted'",
        "--broker", "192.168.1.2:1884", "--node-id", keys["node_id"],
        "--fleet-key", keys["fleet_key"], "--name", "Kitchen",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified" in result.stdout

    config: dict[str, Any] = {}
    exec((flash_root / "config.py").read_text(), config)
    assert config["NODE_KEY"] == keys["node_key"]
    assert keys["fleet_key"] not in (flash_root / "config.py").read_text()
    assert config["NODE_ID"] == keys["node_id"]
    assert (config["MQTT_HOST"], config["MQTT_PORT"]) == ("192.168.1.2", 1884)
    assert config["WIFI_PASSWORD"] == "pw 'quoted'"
    assert (flash_root / "main.py").read_bytes() == (flash.FIRMWARE_DIR / "main.py").read_bytes()

    assert (flash_root / "slot.txt").read_text() == "a"  # the boot record: run application a/
    manifest_path = flash_root / "a" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["files"]
    for entry in manifest["files"]:
        copied = manifest_path.parent / entry["path"]
        assert hashlib.sha256(copied.read_bytes()).hexdigest() == entry["sha256"]


def test_flash_with_a_node_key_writes_it_unchanged(board: tuple[Path, str]) -> None:
    flash_root, device = board
    key = "ab" * 32
    result = run_cli(
        "flash", "--port", device, "--wifi-ssid", "s", "--wifi-password", "p",
        "--broker", "10.0.0.5", "--node-id", "garage", "--key", key,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config: dict[str, Any] = {}
    exec((flash_root / "config.py").read_text(), config)
    assert config["NODE_KEY"] == key
    assert config["MQTT_PORT"] == 1883


def test_flash_with_mqtt_tls_copies_the_ca_and_writes_the_tls_settings(
    board: tuple[Path, str], tmp_path: Path
) -> None:
    flash_root, device = board
    ca = CertificateAuthority(tmp_path, "home-ca").pem
    result = run_cli(
        "flash", "--port", device, "--wifi-ssid", "s", "--wifi-password", "p",
        "--broker", "mqtt.home.arpa", "--node-id", "garage", "--key", "ab" * 32,
        "--mqtt-tls", "--ca", str(ca), "--server-name", "broker.home.arpa",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config: dict[str, Any] = {}
    exec((flash_root / "config.py").read_text(), config)
    assert config["MQTT_TLS"] is True
    assert (config["MQTT_HOST"], config["MQTT_PORT"]) == ("mqtt.home.arpa", 8883)
    assert config["MQTT_SERVER_NAME"] == "broker.home.arpa"
    assert (flash_root / config["MQTT_CA"]).read_bytes() == ca.read_bytes()
    assert "copying ca.pem" in result.stdout


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (("--mqtt-tls",), "--mqtt-tls needs --ca FILE"),
        (("--ca", "ca.pem"), "--ca and --server-name need --mqtt-tls"),
        (("--mqtt-tls", "--ca", "missing.pem"), "missing.pem: No such file or directory"),
        (("--mqtt-tls", "--ca", "config.py"), "not a PEM certificate"),
    ],
)
def test_flash_refuses_incomplete_tls_options_before_writing_anything(
    board: tuple[Path, str], tmp_path: Path, options: tuple[str, ...], error: str
) -> None:
    flash_root, device = board
    (tmp_path / "config.py").write_text("MQTT_HOST = 'x'\n")
    result = subprocess.run(
        [
            sys.executable, "-m", "microhome_tools.cli", "flash", "--port", device,
            "--wifi-ssid", "s", "--wifi-password", "p", "--broker", "10.0.0.5",
            "--node-id", "garage", "--key", "ab" * 32, *options,
        ],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert error in result.stderr
    assert not any(flash_root.iterdir())


def test_default_node_id_and_key_follow_the_protocol(vectors: dict[str, Any]) -> None:
    keys = vectors["keys"]
    assert flash.default_node_id("E66164084B1A2C3D") == "mh-1a2c3d"
    derived = flash.node_key(bytes.fromhex(keys["fleet_key"]), keys["node_id"])
    assert (
        derived
        == hmac.new(
            bytes.fromhex(keys["fleet_key"]), keys["node_id"].encode(), hashlib.sha256
        ).digest()
    )
    assert derived.hex() == keys["node_key"]


def test_flash_micropython_erases_then_writes_at_the_chips_offset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image = tmp_path / "ESP32_GENERIC.bin"
    image.write_bytes(b"\xe9" + bytes(100))
    calls: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(flash.subprocess, "run", fake_run)
    from microhome_tools.cli import build_parser  # noqa: PLC0415

    parsed = build_parser().parse_args(
        ["flash-micropython", "--port", "/dev/ttyUSB0", "--chip", "esp32", "--firmware", str(image)]
    )
    assert parsed.run(parsed) == 0
    tail = [command[2:] for command in calls]
    assert tail == [
        ["esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "erase-flash"],
        ["esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800",
         "write-flash", "-z", "0x1000", str(image)],
    ]  # fmt: skip


def test_flash_micropython_explains_uf2_for_the_pico(capsys: pytest.CaptureFixture[str]) -> None:
    from microhome_tools.cli import build_parser  # noqa: PLC0415

    parsed = build_parser().parse_args(["flash-micropython", "--port", "x", "--chip", "rp2"])
    assert parsed.run(parsed) == 0
    assert "BOOTSEL" in capsys.readouterr().out
