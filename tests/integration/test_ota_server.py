"""Firmware bundles (FirmwareCatalogue) and the FTP server nodes fetch them from
(FtpServerManager): real pyftpdlib, real transfers with ftplib on 127.0.0.1."""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import logging
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from custom_components.microhome.ota import (
    SHIPPED_FIRMWARE_DIR,
    FirmwareBundle,
    FirmwareCatalogue,
    FtpServerManager,
    FtpSession,
    load_bundle,
)

# The FTP server runs in this process (sockets to 127.0.0.1 only).
pytestmark = pytest.mark.usefixtures("socket_enabled")

FILES = {"home/mqtt.mpy": b"M\x06\x00\x1f" + bytes(300), "home/version.mpy": b"M\x06v"}


def make_bundle(
    root: Path,
    version: str,
    files: dict[str, bytes] | None = None,
    notes: str | None = None,
    **manifest: Any,
) -> Path:
    """A bundle as `microhome release` writes it; `manifest` overrides its fields."""
    files = FILES if files is None else files
    path = root / version
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    entries = [
        {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in sorted(files.items())
    ]
    (path / "manifest.json").write_text(
        json.dumps({"version": version, "files": entries} | manifest)
    )
    if notes is not None:
        (path / "notes.md").write_text(notes)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now (connections in TIME_WAIT allowed)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def ftp_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("microhome-ftp")]


async def in_executor[T](hass: HomeAssistant, job: Callable[[], T]) -> T:
    return await hass.async_add_executor_job(job)


def login(port: int, user: str, password: str) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=5)
    try:
        ftp.login(user, password)
    except ftplib.Error:
        ftp.close()
        raise
    return ftp


def fetch(ftp: ftplib.FTP, path: str) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", out.write)
    return out.getvalue()


def login_error(port: int, user: str, password: str) -> str:
    try:
        login(port, user, password).quit()
    except ftplib.error_perm as err:
        return str(err)
    return "logged in"


# --- FirmwareCatalogue -------------------------------------------------------------------


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "shipped"
    make_bundle(path, "1.2.0", notes="# 1.2.0\nShipped.")
    return path


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "config" / "microhome" / "firmware"


async def test_catalogue_offers_shipped_and_user_bundles_newest_last(
    hass: HomeAssistant, shipped: Path, user: Path
) -> None:
    make_bundle(user, "1.10.0", notes="Faster.\n")
    make_bundle(user, "1.9.0")
    catalogue = FirmwareCatalogue(hass, shipped, user)
    await catalogue.async_refresh()

    assert list(catalogue.bundles) == ["1.2.0", "1.9.0", "1.10.0"]
    latest = catalogue.latest
    assert latest is not None
    assert latest.version == "1.10.0"
    assert latest.notes == "Faster.\n"
    assert not latest.shipped
    assert latest.path == user / "1.10.0"
    manifest = (user / "1.10.0" / "manifest.json").read_bytes()
    assert latest.manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    assert latest.size == sum(len(data) for data in FILES.values())
    assert [file.path for file in latest.files] == ["home/mqtt.mpy", "home/version.mpy"]
    old = catalogue.get("1.2.0")
    assert old is not None
    assert old.shipped
    assert old.notes == "# 1.2.0\nShipped."
    assert catalogue.get("1.9.0") is not None
    assert catalogue.get("1.9.0").notes is None  # type: ignore[union-attr]
    assert catalogue.get("2.0.0") is None
    assert catalogue.problems == {}


async def test_catalogue_without_bundles(hass: HomeAssistant, tmp_path: Path) -> None:
    catalogue = FirmwareCatalogue(hass, tmp_path / "none", tmp_path / "neither")
    await catalogue.async_refresh()
    assert catalogue.bundles == {}
    assert catalogue.latest is None


def _break_manifest_json(path: Path) -> None:
    (path / "manifest.json").write_text("{not json")


def _break_file_size(path: Path) -> None:
    (path / "home/mqtt.mpy").write_bytes(b"short")


def _break_file_hash(path: Path) -> None:
    data = bytearray((path / "home/mqtt.mpy").read_bytes())
    data[10] ^= 1
    (path / "home/mqtt.mpy").write_bytes(bytes(data))


def _remove_file(path: Path) -> None:
    (path / "home/version.mpy").unlink()


def _remove_manifest(path: Path) -> None:
    (path / "manifest.json").unlink()


def _escape(path: Path) -> None:
    (path.parent / "secret").write_bytes(b"x")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"].append(
        {"path": "../secret", "size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    )
    (path / "manifest.json").write_text(json.dumps(manifest))


def _write_manifest(text: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        (path / "manifest.json").write_text(text)

    return change


def _twice(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"].append(manifest["files"][0])
    (path / "manifest.json").write_text(json.dumps(manifest))


def _manifest(**fields: Any) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        manifest = json.loads((path / "manifest.json").read_text()) | fields
        (path / "manifest.json").write_text(json.dumps(manifest))

    return change


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_remove_manifest, "cannot read manifest.json: No such file or directory"),
        (_break_manifest_json, "manifest.json is not JSON: "),
        (_manifest(version="1.4.0"), "manifest.json says version '1.4.0'"),
        (_manifest(files=[]), "manifest.json lists no files"),
        (_manifest(files=[{"path": "a", "size": -1, "sha256": "0" * 64}]), "files[0].size: "),
        (_manifest(files=[{"path": "a", "size": 1, "sha256": "X"}]), "files[0].sha256: "),
        (_manifest(files=["home/mqtt.mpy"]), "files[0]: not an object"),
        (
            _manifest(files=[{"path": "/etc/passwd", "size": 1, "sha256": "0" * 64}]),
            "files[0].path",
        ),
        (_write_manifest("[1, 2]"), "manifest.json is not a JSON object"),
        (_write_manifest(" " * 300_000 + "{}"), "manifest.json is larger than 262144 bytes"),
        (_twice, "manifest.json lists a file twice"),
        (_manifest(files=[{"size": 1, "sha256": "0" * 64}]), "files[0].path: not a path"),
        (
            _manifest(files=[{"path": "manifest.json", "size": 1, "sha256": "0" * 64}]),
            "files[0].path: manifest.json is reserved",
        ),
        (_remove_file, "home/version.mpy is missing"),
        (_break_file_size, "home/mqtt.mpy has 5 bytes, not 304"),
        (_break_file_hash, "home/mqtt.mpy does not match its sha256"),
        (_escape, "files[2].path: '../secret' is not a plain relative path"),
    ],
)
async def test_catalogue_refuses_a_damaged_bundle_with_its_reason(  # noqa: PLR0917
    hass: HomeAssistant,
    shipped: Path,
    user: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
    reason: str,
) -> None:
    damage(make_bundle(user, "1.3.0"))
    catalogue = FirmwareCatalogue(hass, shipped, user)
    await catalogue.async_refresh()

    assert list(catalogue.bundles) == ["1.2.0"]
    assert list(catalogue.problems) == [user / "1.3.0"]
    assert catalogue.problems[user / "1.3.0"].startswith(reason)
    assert f"Firmware bundle {user / '1.3.0'} is not offered: {reason}" in caplog.text

    # Warned once, not at every refresh; offered as soon as it is repaired.
    caplog.clear()
    await catalogue.async_refresh()
    assert "is not offered" not in caplog.text
    shutil.rmtree(user / "1.3.0")
    make_bundle(user, "1.3.0")
    await catalogue.async_refresh()
    assert list(catalogue.bundles) == ["1.2.0", "1.3.0"]
    assert catalogue.problems == {}


async def test_catalogue_skips_other_directories_and_duplicates(
    hass: HomeAssistant, shipped: Path, user: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_bundle(user, "1.2.0", files={"home/other.mpy": b"other"})
    make_bundle(user, "latest")
    (user / ".1.5.0-tmp").mkdir()
    (user / "README.txt").write_text("drop bundles here")
    catalogue = FirmwareCatalogue(hass, shipped, user)
    with caplog.at_level(logging.WARNING):
        await catalogue.async_refresh()

    bundle = catalogue.get("1.2.0")
    assert bundle is not None
    assert bundle.shipped
    assert catalogue.problems == {
        user / "1.2.0": "the integration ships this version",
        user / "latest": "'latest' is not a version (MAJOR.MINOR.PATCH)",
    }


async def test_default_catalogue_offers_the_bundle_shipped_with_the_integration(
    hass: HomeAssistant,
) -> None:
    catalogue = FirmwareCatalogue(hass)
    await catalogue.async_refresh()
    assert catalogue.user_dir == Path(hass.config.path("microhome", "firmware"))
    assert catalogue.problems == {}
    shipped = [path.name for path in SHIPPED_FIRMWARE_DIR.iterdir()]
    assert list(catalogue.bundles) == shipped
    assert len(shipped) == 1
    assert catalogue.latest is not None
    assert catalogue.latest.shipped


def test_load_bundle_reads_at_most_64_kib_of_notes(tmp_path: Path) -> None:
    bundle = load_bundle(make_bundle(tmp_path, "1.0.0", notes="n" * 100_000))
    assert bundle.notes == "n" * 65536


# --- FtpServerManager --------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> FirmwareBundle:
    return load_bundle(make_bundle(tmp_path / "firmware", "1.3.0"))


@pytest.fixture
async def new_manager(hass: HomeAssistant) -> AsyncIterator[Callable[[], FtpServerManager]]:
    """Makes managers; whatever a test leaves running is stopped after it."""
    managers: list[FtpServerManager] = []

    def make() -> FtpServerManager:
        managers.append(FtpServerManager(hass))
        return managers[-1]

    yield make
    for manager in managers:
        await manager.async_stop()


@pytest.fixture
def ports() -> tuple[int, range]:
    port = free_port()
    first = free_port()
    return port, range(first, first + 1)


async def test_session_serves_the_bundle_read_only(
    hass: HomeAssistant,
    bundle: FirmwareBundle,
    ports: tuple[int, range],
    new_manager: Callable[[], FtpServerManager],
) -> None:
    manager = new_manager()
    session = await manager.async_start_session(bundle, *ports)
    assert session.port == ports[0] == manager.port
    assert session.path == "/1.3.0"
    assert session.bundle is bundle

    def transfer() -> dict[str, Any]:
        ftp = login(session.port, session.user, session.password)
        try:
            result: dict[str, Any] = {
                "manifest": fetch(ftp, f"{session.path}/manifest.json"),
                "module": fetch(ftp, f"{session.path}/home/mqtt.mpy"),
                "pasv": ftp.makepasv()[1],
                "outside": _error(lambda: fetch(ftp, "/../../../../etc/hostname")),
                "store": _error(lambda: ftp.storbinary("STOR /1.3.0/x.mpy", io.BytesIO(b"x"))),
                "delete": _error(lambda: ftp.delete("/1.3.0/home/mqtt.mpy")),
                "mkdir": _error(lambda: ftp.mkd("/1.3.0/new")),
                "rename": _error(lambda: ftp.rename("/1.3.0/manifest.json", "/m.json")),
            }
        finally:
            ftp.quit()
        return result

    result = await in_executor(hass, transfer)
    assert hashlib.sha256(result["manifest"]).hexdigest() == bundle.manifest_sha256
    assert result["module"] == FILES["home/mqtt.mpy"]
    assert result["pasv"] in ports[1]
    assert result["outside"].startswith("550 ")
    for refused in ("store", "delete", "mkdir", "rename"):
        assert result[refused].startswith("550 "), refused
    assert (bundle.path / "home/mqtt.mpy").read_bytes() == FILES["home/mqtt.mpy"]
    assert not (bundle.path / "x.mpy").exists()

    # Nobody else gets in: no anonymous user, no guessed password.
    anonymous = await in_executor(hass, lambda: login_error(session.port, "anonymous", "a@b"))
    assert anonymous.startswith("530 ")
    wrong = await in_executor(hass, lambda: login_error(session.port, session.user, "guess"))
    assert wrong.startswith("530 ")

    await manager.async_end_session(session)
    assert manager.port is None


def _error(action: Callable[[], object]) -> str:
    try:
        action()
    except ftplib.error_perm as err:
        return str(err)
    return "allowed"


async def test_server_runs_while_a_session_is_open(
    hass: HomeAssistant,
    bundle: FirmwareBundle,
    ports: tuple[int, range],
    new_manager: Callable[[], FtpServerManager],
) -> None:
    manager = new_manager()
    assert port_is_free(ports[0])
    first = await manager.async_start_session(bundle, *ports)
    # A second session while the first runs: same server, its own user.
    second = await manager.async_start_session(bundle, free_port(), ports[1])
    assert second.port == first.port
    assert second.user != first.user
    assert second.password != first.password
    assert not port_is_free(ports[0])
    assert len(ftp_threads()) == 1

    await manager.async_end_session(first)
    # The ended session's credentials no longer work; the other session's still do.
    assert (await in_executor(hass, lambda: login_error(first.port, first.user, first.password)))[
        :4
    ] == "530 "
    assert (
        await in_executor(hass, lambda: fetch_manifest(second))
        == (bundle.path / "manifest.json").read_bytes()
    )

    await manager.async_end_session(second)
    assert port_is_free(ports[0])
    assert ftp_threads() == []

    # And it starts again for the next update.
    third = await manager.async_start_session(bundle, *ports)
    assert (
        await in_executor(hass, lambda: fetch_manifest(third))
        == (bundle.path / "manifest.json").read_bytes()
    )
    await manager.async_stop()
    assert port_is_free(ports[0])
    assert ftp_threads() == []
    assert manager.port is None


def fetch_manifest(session: FtpSession) -> bytes:
    ftp = login(session.port, session.user, session.password)
    try:
        return fetch(ftp, f"{session.path}/manifest.json")
    finally:
        ftp.quit()


async def test_two_servers_do_not_share_an_ioloop(
    hass: HomeAssistant,
    bundle: FirmwareBundle,
    ports: tuple[int, range],
    new_manager: Callable[[], FtpServerManager],
) -> None:
    one, two = new_manager(), new_manager()
    first = await one.async_start_session(bundle, *ports)
    second = await two.async_start_session(bundle, free_port(), range(free_port(), free_port()))
    await one.async_end_session(first)
    # Stopping the first server closed nothing of the second.
    assert (
        await in_executor(hass, lambda: fetch_manifest(second))
        == (bundle.path / "manifest.json").read_bytes()
    )
    await two.async_stop()
    assert ftp_threads() == []


async def test_port_in_use_is_a_clear_error(
    hass: HomeAssistant,
    bundle: FirmwareBundle,
    ports: tuple[int, range],
    new_manager: Callable[[], FtpServerManager],
) -> None:
    manager = new_manager()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", ports[0]))
        taken.listen()
        with pytest.raises(HomeAssistantError) as err:
            await manager.async_start_session(bundle, *ports)
    assert err.value.translation_key == "ftp_server_failed"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["port"] == str(ports[0])
    assert manager.port is None
    assert ftp_threads() == []
    # Nothing half-started: the next attempt works.
    session = await manager.async_start_session(bundle, *ports)
    assert (
        await in_executor(hass, lambda: fetch_manifest(session))
        == (bundle.path / "manifest.json").read_bytes()
    )
    await manager.async_stop()


async def test_bundle_removed_before_the_session(
    hass: HomeAssistant, bundle: FirmwareBundle, ports: tuple[int, range]
) -> None:
    shutil.rmtree(bundle.path.parent)
    manager = FtpServerManager(hass)
    with pytest.raises(HomeAssistantError) as err:
        await manager.async_start_session(bundle, *ports)
    assert err.value.translation_key == "firmware_missing"
    assert err.value.translation_placeholders == {"version": "1.3.0"}
    assert manager.port is None
    assert port_is_free(ports[0])
