"""Firmware bundles and the FTP server nodes fetch them from.

A bundle is a directory `<version>/` with `manifest.json` ({"version", "files": [{"path",
"size", "sha256"}, ...]}), the files it lists and optionally `notes.md` (built by
`microhome release`). `FirmwareCatalogue` finds the bundle shipped with the integration and
those a user drops into `<config>/microhome/firmware/`. `FtpServerManager` serves them,
read-only, from a pyftpdlib server that runs only while an update session is open.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pyftpdlib.authorizers import DummyAuthorizer  # type: ignore[import-untyped]
from pyftpdlib.handlers import FTPHandler  # type: ignore[import-untyped]
from pyftpdlib.ioloop import IOLoop  # type: ignore[import-untyped]
from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

from .const import DOMAIN
from .protocol import VERSION_RE

_LOGGER = logging.getLogger(__name__)

SHIPPED_FIRMWARE_DIR = Path(__file__).parent / "firmware"
USER_FIRMWARE_DIR = ("microhome", "firmware")  # under Home Assistant's config directory
MANIFEST = "manifest.json"
NOTES = "notes.md"
# The same rule as `microhome release`: the version is also a directory and an FTP path.
SHA256_RE = re.compile(r"[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 256 * 1024
MAX_NOTES_BYTES = 64 * 1024

READ_ONLY = "elr"  # change directory, list, retrieve
POLL_SECONDS = 0.25  # how soon the server thread notices it must stop
FTP_IDLE_TIMEOUT = 120


class BundleError(Exception):
    """A bundle directory that cannot be offered; str() says why."""


@dataclass(frozen=True, slots=True)
class BundleFile:
    """One file of a bundle, as its manifest lists it."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class FirmwareBundle:
    """A checked bundle: every file is present with its manifest size and hash."""

    version: str
    path: Path
    manifest_sha256: str
    files: tuple[BundleFile, ...]
    notes: str | None
    shipped: bool

    @property
    def size(self) -> int:
        """Bytes a node stores for this bundle."""
        return sum(file.size for file in self.files)


def _file_entry(entry: Any, index: int) -> BundleFile:
    where = f"files[{index}]"
    if not isinstance(entry, dict):
        raise BundleError(f"{where}: not an object")
    path, size, sha256 = entry.get("path"), entry.get("size"), entry.get("sha256")
    if not isinstance(path, str) or not path:
        raise BundleError(f"{where}.path: not a path")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise BundleError(f"{where}.path: {path!r} is not a plain relative path")
    if path in (MANIFEST, NOTES):
        raise BundleError(f"{where}.path: {path} is reserved")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise BundleError(f"{where}.size: not a byte count")
    if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
        raise BundleError(f"{where}.sha256: not 64 lower-case hex digits")
    return BundleFile(path, size, sha256)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(65536):
            digest.update(block)
    return digest.hexdigest()


def load_bundle(path: Path, shipped: bool = False) -> FirmwareBundle:
    """Check the bundle in `path` (blocking I/O); raises BundleError with the reason."""
    version = path.name
    if not VERSION_RE.fullmatch(version):
        raise BundleError(f"{version!r} is not a version (MAJOR.MINOR.PATCH)")
    manifest_path = path / MANIFEST
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            raise BundleError(f"{MANIFEST} is larger than {MAX_MANIFEST_BYTES} bytes")
        raw = manifest_path.read_bytes()
    except OSError as err:
        raise BundleError(f"cannot read {MANIFEST}: {err.strerror or err}") from err
    try:
        manifest = json.loads(raw)
    except ValueError as err:
        raise BundleError(f"{MANIFEST} is not JSON: {err}") from err
    if not isinstance(manifest, dict):
        raise BundleError(f"{MANIFEST} is not a JSON object")
    if manifest.get("version") != version:
        raise BundleError(f"{MANIFEST} says version {manifest.get('version')!r}")
    entries = manifest.get("files")
    if not isinstance(entries, list) or not entries:
        raise BundleError(f"{MANIFEST} lists no files")
    files = tuple(_file_entry(entry, index) for index, entry in enumerate(entries))
    if len({file.path for file in files}) != len(files):
        raise BundleError(f"{MANIFEST} lists a file twice")
    root = path.resolve()
    for file in files:
        target = path / file.path
        if not target.resolve().is_relative_to(root) or not target.is_file():
            raise BundleError(f"{file.path} is missing")
        if target.stat().st_size != file.size:
            raise BundleError(f"{file.path} has {target.stat().st_size} bytes, not {file.size}")
        if _file_sha256(target) != file.sha256:
            raise BundleError(f"{file.path} does not match its sha256")
    notes = None
    notes_path = path / NOTES
    if notes_path.is_file():
        with notes_path.open("rb") as notes_file:
            notes = notes_file.read(MAX_NOTES_BYTES).decode(errors="replace")
    return FirmwareBundle(
        version=version,
        path=path,
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
        files=files,
        notes=notes,
        shipped=shipped,
    )


class FirmwareCatalogue:
    """The bundles nodes can be updated to, newest last."""

    def __init__(
        self,
        hass: HomeAssistant,
        shipped_dir: Path = SHIPPED_FIRMWARE_DIR,
        user_dir: Path | None = None,
    ) -> None:
        self.hass = hass
        self.shipped_dir = shipped_dir
        self.user_dir = user_dir or Path(hass.config.path(*USER_FIRMWARE_DIR))
        self.bundles: dict[str, FirmwareBundle] = {}
        # Directory -> why it is not offered; kept to warn once per problem.
        self.problems: dict[Path, str] = {}

    async def async_refresh(self) -> None:
        """Scan both directories again (in the executor)."""
        bundles, problems = await self.hass.async_add_executor_job(self._scan)
        for path, reason in problems.items():
            if self.problems.get(path) != reason:
                _LOGGER.warning("Firmware bundle %s is not offered: %s", path, reason)
        self.bundles = bundles
        self.problems = problems

    def _scan(self) -> tuple[dict[str, FirmwareBundle], dict[Path, str]]:
        found: dict[str, FirmwareBundle] = {}
        problems: dict[Path, str] = {}
        for directory, shipped in ((self.shipped_dir, True), (self.user_dir, False)):
            try:
                paths = sorted(directory.iterdir()) if directory.is_dir() else []
            except OSError as err:
                problems[directory] = f"cannot list it: {err.strerror or err}"
                continue
            for path in paths:
                if path.name.startswith(".") or not path.is_dir():
                    continue
                if path.name in found:
                    problems[path] = "the integration ships this version"
                    continue
                try:
                    found[path.name] = load_bundle(path, shipped)
                except BundleError as err:
                    problems[path] = str(err)
                except OSError as err:
                    problems[path] = f"cannot read it: {err.strerror or err}"
        ordered = sorted(found.values(), key=lambda bundle: AwesomeVersion(bundle.version))
        return {bundle.version: bundle for bundle in ordered}, problems

    @property
    def latest(self) -> FirmwareBundle | None:
        """The bundle with the highest version, if any."""
        return next(reversed(self.bundles.values()), None)

    def get(self, version: str) -> FirmwareBundle | None:
        """The bundle of `version`, if there is one."""
        return self.bundles.get(version)


@dataclass(frozen=True, slots=True)
class FtpSession:
    """What a node needs to fetch one bundle: the `ota` command's FTP fields."""

    user: str
    password: str
    port: int
    path: str
    bundle: FirmwareBundle


class _ServerThread:
    """One pyftpdlib server on its own IOLoop (not the global one), in its own thread."""

    def __init__(self, authorizer: Any, address: str, port: int, passive_ports: range) -> None:
        handler = type(
            "MicroHomeFTPHandler",
            (FTPHandler,),
            {
                "authorizer": authorizer,
                "passive_ports": list(passive_ports),
                "banner": "MicroHome firmware server",
                "timeout": FTP_IDLE_TIMEOUT,
                "permit_foreign_addresses": False,
            },
        )
        ioloop = IOLoop()
        try:
            self.server = FTPServer((address, port), handler, ioloop=ioloop)
        except BaseException:
            ioloop.close()
            raise
        self.port = port
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"{DOMAIN}-ftp-{port}", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        # ioloop.loop, not serve_forever: that one logs "starting" on every call.
        try:
            while not self._stopping.is_set():
                self.server.ioloop.loop(timeout=POLL_SECONDS, blocking=False)
        except Exception:
            _LOGGER.exception("The firmware FTP server stopped on an error")
        finally:
            self.server.close_all()

    def stop(self) -> None:
        """Close every connection and the listening socket; returns once the thread ended."""
        self._stopping.set()
        self.thread.join()


class FtpServerManager:
    """Runs the FTP server while at least one update session is open.

    Each session gets its own random user and password, read-only, with the bundle's
    firmware directory as its home; there is no anonymous user. The port and passive ports
    come from MicroHome's settings when the server starts.
    """

    def __init__(self, hass: HomeAssistant, address: str = "0.0.0.0") -> None:
        self.hass = hass
        self.address = address
        self._authorizer = DummyAuthorizer()
        self._server: _ServerThread | None = None
        self._sessions: set[str] = set()
        self._lock = asyncio.Lock()

    @property
    def port(self) -> int | None:
        """The port the server listens on, while it runs."""
        return self._server.port if self._server else None

    async def async_start_session(
        self, bundle: FirmwareBundle, port: int, passive_ports: range
    ) -> FtpSession:
        """Open a session for `bundle`, starting the server if it is not running.

        A running server keeps its ports: the session says which port to use.
        """
        user = f"mh-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(18)
        home = str(bundle.path.parent)
        async with self._lock:
            try:
                await self.hass.async_add_executor_job(
                    lambda: self._authorizer.add_user(user, password, home, perm=READ_ONLY)
                )
            except ValueError as err:  # the bundle's directory is gone
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="firmware_missing",
                    translation_placeholders={"version": bundle.version},
                ) from err
            self._sessions.add(user)
            if self._server is None:
                try:
                    self._server = await self.hass.async_add_executor_job(
                        _ServerThread, self._authorizer, self.address, port, passive_ports
                    )
                except OSError as err:
                    self._end(user)
                    raise HomeAssistantError(
                        translation_domain=DOMAIN,
                        translation_key="ftp_server_failed",
                        translation_placeholders={"port": str(port), "error": str(err)},
                    ) from err
                _LOGGER.debug("Firmware FTP server started on port %s", port)
            return FtpSession(user, password, self._server.port, f"/{bundle.version}", bundle)

    async def async_end_session(self, session: FtpSession) -> None:
        """Close the session; the server stops with the last one."""
        async with self._lock:
            self._end(session.user)
            if not self._sessions:
                await self._async_stop_server()

    async def async_stop(self) -> None:
        """End every session and stop the server (on unload)."""
        async with self._lock:
            for user in list(self._sessions):
                self._end(user)
            await self._async_stop_server()

    async def _async_stop_server(self) -> None:
        if (server := self._server) is not None:
            self._server = None
            await self.hass.async_add_executor_job(server.stop)
            _LOGGER.debug("Firmware FTP server on port %s stopped", server.port)

    def _end(self, user: str) -> None:
        if user in self._sessions:
            self._sessions.discard(user)
            self._authorizer.remove_user(user)
