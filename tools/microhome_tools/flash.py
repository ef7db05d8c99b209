"""`microhome flash` (firmware + config.py onto a board, with mpremote) and
`microhome flash-micropython` (MicroPython itself onto an ESP32, with esptool)."""

import argparse
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR
from microhome_tools.common import (
    BOARD_CA_FILE,
    add_broker_arguments,
    broker_settings,
    node_key,
    render_config,
)

# Where each chip's MicroPython image starts in flash.
ESP_FLASH_OFFSETS = {
    "esp32": "0x1000",
    "esp32s2": "0x1000",
    "esp32s3": "0x0",
    "esp32c3": "0x0",
    "esp32c6": "0x0",
}


def default_node_id(unique_id_hex: str) -> str:
    """`mh-` and the last 3 bytes of machine.unique_id(), as the firmware names itself."""
    return "mh-" + unique_id_hex.lower()[-6:]


def add_flash_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0")
    parser.add_argument("--wifi-ssid", required=True)
    parser.add_argument("--wifi-password", required=True)
    parser.add_argument("--broker", required=True, help="MQTT broker HOST[:PORT]")
    add_broker_arguments(parser)
    parser.add_argument("--node-id", help="default: mh- + the last 3 bytes of the board's id")
    parser.add_argument("--name", help="a friendly name for the node")
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key", help="the node key (64 hex characters)")
    keys.add_argument(
        "--fleet-key",
        help="the fleet key from the MicroHome panel; only the derived node key"
        " is written to the board",
    )
    parser.add_argument("--bundle", type=Path, help="a bundle directory (default: build one)")


def run_flash(args: argparse.Namespace) -> int:
    from mpremote.transport_serial import SerialTransport  # noqa: PLC0415

    transport = SerialTransport(args.port, baudrate=115200)
    try:
        transport.enter_raw_repl(soft_reset=True)
        return flash_board(transport, args, print)
    finally:
        transport.close()


def flash_board(transport: Any, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Copy the bundle, main.py, config.py (and with --mqtt-tls the CA certificate) to the
    board, verify them and soft-reset it."""
    node_id = args.node_id
    if not node_id:
        unique = transport.eval("__import__('binascii').hexlify(__import__('machine').unique_id())")
        node_id = default_node_id(unique.decode())
    key = bytes.fromhex(args.key) if args.key else node_key(bytes.fromhex(args.fleet_key), node_id)
    if len(key) != 32:
        raise SystemExit("the key must be 32 bytes (64 hex characters)")
    broker, ca = broker_settings(args)
    config = render_config(
        {
            "WIFI_SSID": args.wifi_ssid,
            "WIFI_PASSWORD": args.wifi_password,
            **broker,
            "NODE_ID": node_id,
            "NODE_NAME": args.name,
            "NODE_KEY": key.hex(),
        },
        "microhome flash",
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = board_files(args.bundle, Path(tmp))
        files["config.py"] = config.encode()
        if ca is not None:
            files[BOARD_CA_FILE] = ca
        for path, data in sorted(files.items()):
            parent = path.rpartition("/")[0]
            if parent and not transport.fs_exists(parent):
                make_dirs(transport, parent)
            say(f"copying {path} ({len(data)} bytes)")
            transport.fs_writefile(path, data)
        for path, data in sorted(files.items()):
            if transport.fs_hashfile(path, "sha256") != hashlib.sha256(data).digest():
                say(f"verify failed: {path}")
                return 1
    say(f"verified {len(files)} files; node {node_id} is ready, soft-resetting the board")
    transport.exit_raw_repl()
    transport.serial.write(b"\x04")
    return 0


def make_dirs(transport: Any, path: str) -> None:
    done = ""
    for part in path.split("/"):
        done = f"{done}/{part}" if done else part
        if not transport.fs_exists(done):
            transport.fs_mkdir(done)


def board_files(bundle: Path | None, workdir: Path) -> dict[str, bytes]:
    """Board path -> bytes for a fresh board: the bundle in application directory a/, the
    boot record slot.txt naming it, and main.py (see docs/firmware.md)."""
    from microhome_tools.release import build_bundle  # noqa: PLC0415

    bundle = bundle or build_bundle(FIRMWARE_DIR, workdir, None)
    files = {
        "a/" + path.relative_to(bundle).as_posix(): path.read_bytes()
        for path in bundle.rglob("*")
        if path.is_file() and path.name != "notes.md"
    }
    files["slot.txt"] = b"a"
    files["main.py"] = (FIRMWARE_DIR / "main.py").read_bytes()
    return files


def add_flash_micropython_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True)
    parser.add_argument("--chip", required=True, choices=[*ESP_FLASH_OFFSETS, "rp2"])
    parser.add_argument("--firmware", type=Path, help="MicroPython .bin for the chip")
    parser.add_argument("--baud", type=int, default=460800)


def esptool_commands(port: str, chip: str, firmware: Path, baud: int) -> list[list[str]]:
    base = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port, "--baud", str(baud)]
    return [
        [*base, "erase-flash"],
        [*base, "write-flash", "-z", ESP_FLASH_OFFSETS[chip], str(firmware)],
    ]


def run_flash_micropython(args: argparse.Namespace) -> int:
    if args.chip == "rp2":
        print(
            "A Pico W takes MicroPython as a UF2 file: hold BOOTSEL while plugging it in, then copy"
            " the RPI_PICO_W .uf2 file onto the RPI-RP2 drive that appears. It reboots into"
            " MicroPython; then run `microhome flash`."
        )
        return 0
    if not args.firmware or not args.firmware.is_file():
        print("--firmware FILE.bin is required for an ESP32 (from micropython.org/download)")
        return 2
    for command in esptool_commands(args.port, args.chip, args.firmware, args.baud):
        print("$", " ".join(command[2:]))
        if subprocess.run(command, check=False).returncode:
            return 1
    return 0


add_arguments = add_flash_arguments
run = run_flash
