"""OTA updates of nodes: one job per node, from the update entity or `microhome.ota_update`.

A job opens an FTP session for the bundle (ota.FtpServerManager), sends the node the signed
`ota` command, follows its `ota/status` and ends when the node reports `done` or announces the
new firmware, reports `failed` or `rolled_back`, or takes longer than OTA_TIMEOUT. The FTP
session is closed in every case; a job that does not succeed raises a repair issue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from awesomeversion import AwesomeVersion
from awesomeversion.exceptions import AwesomeVersionCompareException
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.signal_type import SignalType

from .client import Change
from .const import DOMAIN
from .issues import async_set_issue, ota_issue_id
from .node import MicroHomeNode
from .ota import FirmwareBundle, FirmwareCatalogue, FtpServerManager
from .protocol import OtaStatus
from .settings import async_get_settings

_LOGGER = logging.getLogger(__name__)

OTA_TIMEOUT = 300.0  # seconds from the `ota` command to the node's result
CATALOGUE_REFRESH = timedelta(minutes=10)
# The firmware catalogue's bundles changed.
SIGNAL_FIRMWARE: SignalType[()] = SignalType(f"{DOMAIN}_firmware")

DONE = "done"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
TIMEOUT = "timeout"
UP_TO_DATE = "up_to_date"
SKIPPED = "skipped"
BUSY_STATES = ("downloading", "verifying", "applying", "rebooting")

DATA_OTA: HassKey[OtaManager] = HassKey(f"{DOMAIN}_ota")
_LOAD_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_ota_lock")


def version_is_newer(version: str, than: str) -> bool:
    """Whether `version` is newer than `than`; versions that do not compare are not."""
    try:
        return bool(AwesomeVersion(version) > AwesomeVersion(than))
    except AwesomeVersionCompareException:
        return False


@dataclass(slots=True)
class OtaJob:
    """A running update of one node."""

    node_id: str
    version: str
    from_version: str | None
    started: float
    status: OtaStatus | None = None  # the node's last ota/status since the command

    @property
    def progress(self) -> int | None:
        """The node's progress in percent, once it reported any."""
        return self.status.progress if self.status else None


@dataclass(frozen=True, slots=True)
class OtaResult:
    """How one node's update ended."""

    node_id: str
    name: str
    result: str  # done, failed, rolled_back, timeout, up_to_date, skipped
    version: str
    from_version: str | None
    duration: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the node runs the version now."""
        return self.result in (DONE, UP_TO_DATE)

    @property
    def failed(self) -> bool:
        """Whether the update was tried and did not succeed."""
        return self.result in (FAILED, ROLLED_BACK, TIMEOUT)

    def as_dict(self) -> dict[str, Any]:
        """The service response for this node."""
        return {
            "name": self.name,
            "result": self.result,
            "version": self.version,
            "from_version": self.from_version,
            "duration": round(self.duration, 1),
            "error": self.error,
        }


class OtaManager:
    """The firmware catalogue, the FTP server and the running jobs of every node."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.catalogue = FirmwareCatalogue(hass)
        self.ftp = FtpServerManager(hass)
        self.jobs: dict[str, OtaJob] = {}
        self.results: dict[str, OtaResult] = {}

    async def async_refresh(self) -> None:
        """Scan the bundles again; tell the update entities when they changed."""
        before = {version: bundle.manifest_sha256 for version, bundle in self.bundles.items()}
        await self.catalogue.async_refresh()
        after = {version: bundle.manifest_sha256 for version, bundle in self.bundles.items()}
        if after != before:
            async_dispatcher_send(self.hass, SIGNAL_FIRMWARE)

    @property
    def bundles(self) -> dict[str, FirmwareBundle]:
        """The bundles offered, oldest first."""
        return self.catalogue.bundles

    def offered_version(self, installed: str | None) -> str | None:
        """The version to offer a node running `installed`: never older than it."""
        latest = self.catalogue.latest
        if latest is None:
            return installed
        if installed is not None and version_is_newer(installed, latest.version):
            return installed
        return latest.version

    def bundle(self, version: str | None) -> FirmwareBundle:
        """The bundle of `version`, or the newest; ServiceValidationError if there is none."""
        if version is None:
            if (latest := self.catalogue.latest) is None:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="no_firmware"
                )
            return latest
        if (bundle := self.catalogue.get(version)) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_version",
                translation_placeholders={
                    "version": version,
                    "versions": ", ".join(self.bundles) or "-",
                },
            )
        return bundle

    async def async_update(
        self, node: MicroHomeNode, bundle: FirmwareBundle, force: bool = False
    ) -> OtaResult:
        """Update `node` to `bundle`.

        Without `force`, a node that already runs this version or a newer one is left
        alone (result up_to_date or skipped). Raises a HomeAssistantError when the update
        cannot start: node offline, an update already running, the FTP server failing.
        """
        installed = node.firmware
        if not force and installed is not None:
            if installed == bundle.version:
                return OtaResult(node.node_id, node.name, UP_TO_DATE, bundle.version, installed, 0)
            if version_is_newer(installed, bundle.version):
                error = f"runs {installed}, newer than {bundle.version}; force downgrades it"
                return OtaResult(
                    node.node_id, node.name, SKIPPED, bundle.version, installed, 0, error
                )
        placeholders = {"name": node.name}
        if node.node_id in self.jobs:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="ota_busy",
                translation_placeholders=placeholders,
            )
        if not node.available:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="node_offline",
                translation_placeholders=placeholders,
            )
        job = OtaJob(node.node_id, bundle.version, installed, time.monotonic())
        self.jobs[node.node_id] = job
        node.notify(Change.OTA_JOB)
        try:
            task = node.entry.async_create_background_task(
                self.hass, self._async_run(node, bundle, job), f"{DOMAIN} OTA {node.node_id}"
            )
            try:
                result = await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                raise HomeAssistantError(  # the node's entry was unloaded
                    translation_domain=DOMAIN,
                    translation_key="ota_cancelled",
                    translation_placeholders=placeholders,
                ) from None
            self.results[node.node_id] = result
            self._update_issue(result)
        finally:
            del self.jobs[node.node_id]
            node.notify(Change.OTA_JOB)
        return result

    async def _async_run(
        self, node: MicroHomeNode, bundle: FirmwareBundle, job: OtaJob
    ) -> OtaResult:
        settings = await async_get_settings(self.hass)
        session = await self.ftp.async_start_session(
            bundle, settings.ftp_port, settings.passive_port_range
        )
        outcome: asyncio.Future[tuple[str, str | None]] = self.hass.loop.create_future()

        def finish(result: str, error: str | None) -> None:
            if not outcome.done():
                outcome.set_result((result, error))

        @callback
        def on_status() -> None:
            # Only statuses sent after this point count: the retained one came before.
            match node.ota_status:
                case OtaStatus(state=state) as status if state in BUSY_STATES:
                    job.status = status
                    node.notify(Change.OTA_JOB)
                case OtaStatus(state="done", version=version) if version == bundle.version:
                    finish(DONE, None)
                case OtaStatus(state=state, error=error) if state in (FAILED, ROLLED_BACK):
                    finish(state, error or state)

        @callback
        def on_announce() -> None:
            # A re-install of the running version only counts when the node says `done`.
            if node.firmware == bundle.version and job.from_version != bundle.version:
                finish(DONE, None)

        unsubscribe = [
            node.listen(Change.OTA, on_status),
            node.listen(Change.ANNOUNCE, on_announce),
        ]
        _LOGGER.info(
            "Updating node %s from %s to %s", node.node_id, job.from_version, bundle.version
        )
        try:
            async with asyncio.timeout(OTA_TIMEOUT):
                try:
                    await node.async_command(
                        "ota",
                        version=bundle.version,
                        host=settings.ha_address,
                        port=session.port,
                        user=session.user,
                        password=session.password,
                        path=session.path,
                        manifest_sha256=bundle.manifest_sha256,
                    )
                except HomeAssistantError as err:
                    finish(FAILED, str(err).rstrip("."))
                result, error = await outcome
        except TimeoutError:
            result, error = TIMEOUT, _timeout_error(job)
        finally:
            for remove in unsubscribe:
                remove()
            await self.ftp.async_end_session(session)
        duration = time.monotonic() - job.started
        if result == DONE:
            _LOGGER.info("Node %s runs %s (%.1f s)", node.node_id, bundle.version, duration)
        else:
            _LOGGER.warning(
                "Updating node %s to %s ended with %s: %s",
                node.node_id,
                bundle.version,
                result,
                error,
            )
        return OtaResult(
            node.node_id, node.name, result, bundle.version, job.from_version, duration, error
        )

    def _update_issue(self, result: OtaResult) -> None:
        issue_id = ota_issue_id(result.node_id)
        if not result.failed:
            async_set_issue(self.hass, issue_id, None)
            return
        async_set_issue(
            self.hass,
            issue_id,
            f"ota_{result.result}",
            {
                "name": result.name,
                "node_id": result.node_id,
                "version": result.version,
                "from_version": result.from_version or "-",
                "error": result.error or "-",
                "timeout": f"{OTA_TIMEOUT:g}",
            },
        )

    async def async_stop(self) -> None:
        """Stop the FTP server (Home Assistant stops)."""
        await self.ftp.async_stop()


def _timeout_error(job: OtaJob) -> str:
    status = job.status
    if status is None:
        return f"no progress reported within {OTA_TIMEOUT:g} s"
    return f"no result within {OTA_TIMEOUT:g} s; last state {status.state} at {status.progress} %"


async def async_get_ota_manager(hass: HomeAssistant) -> OtaManager:
    """The OTA manager, created with a scanned catalogue on first use."""
    if (manager := hass.data.get(DATA_OTA)) is not None:
        return manager
    async with hass.data.setdefault(_LOAD_LOCK, asyncio.Lock()):
        if (manager := hass.data.get(DATA_OTA)) is not None:
            return manager
        manager = OtaManager(hass)
        await manager.async_refresh()

        async def refresh(_now: Any) -> None:
            await manager.async_refresh()

        stop_refresh = async_track_time_interval(
            hass, refresh, CATALOGUE_REFRESH, name=f"{DOMAIN} firmware catalogue"
        )

        async def on_stop(_event: Event) -> None:
            stop_refresh()
            await manager.async_stop()

        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, on_stop)
        hass.data[DATA_OTA] = manager
    return manager
