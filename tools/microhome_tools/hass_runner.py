"""A real Home Assistant for demos and end-to-end tests.

`HassRunner` prepares a configuration directory with the MicroHome integration from this
repository and only the components it needs, starts a real `hass` process on a loopback
port, finishes onboarding through Home Assistant's REST onboarding API (so a user name and
password exist and tokens are at hand), and runs config flows over the REST API:

    with HassRunner(tmp_path / "config", port) as hass:
        tokens = hass.onboard("admin", "secret")
        hass.add_mqtt_broker("127.0.0.1", 1883)
        hass.add_microhome_node("mh-kitchen", "rp2")

Only the standard library is used, so a test or the `microhome demo` command can drive it
from plain synchronous code.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from microhome_tools.common import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
INTEGRATION_DIR = REPO_ROOT / "custom_components" / "microhome"

# Home Assistant components the panel and MicroHome need; `frontend` pulls in what it uses.
CONFIGURATION_YAML = """\
homeassistant:
  name: MicroHome
  unit_system: metric
  time_zone: UTC
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  country: NL
  currency: EUR

frontend:
config:
logger:
  default: warning
  logs:
    homeassistant.setup: info
    custom_components.microhome: debug
    homeassistant.components.mqtt: info
"""


def _stop_with_parent() -> None:
    """In the child: SIGTERM when the process that started hass dies (no orphans)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class HassError(RuntimeError):
    """Home Assistant did not start, or a REST call failed."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens of the onboarded user (client id: the runner's base URL)."""

    access_token: str
    refresh_token: str
    client_id: str


class HassRunner:
    """One `hass` process with its own configuration directory."""

    def __init__(
        self,
        config_dir: Path,
        port: int | None = None,
        *,
        fleet_key: bytes | None = None,
        extra_yaml: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.fleet_key = fleet_key
        self.extra_yaml = extra_yaml
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.tokens: Tokens | None = None
        self.log_path = self.config_dir / "hass-output.log"

    # --- the configuration directory ----------------------------------------------------------

    def prepare(self) -> None:
        """Write configuration.yaml, link the integration and seed the fleet key if given."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(CONFIGURATION_YAML + self.extra_yaml)
        # The HTTP server's settings live in storage (YAML `http:` is only migrated once, as
        # an unconfirmed trial that reverts after five minutes).
        self.write_storage(
            "http",
            {
                "stable": {
                    "server_host": ["127.0.0.1"],
                    "server_port": self.port,
                    "cors_allowed_origins": [],
                    "login_attempts_threshold": -1,
                    "ip_ban_enabled": False,
                    "ssl_profile": "modern",
                    "use_x_frame_options": True,
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "error": None,
                    "error_message": None,
                },
                "pending": None,
                "yaml_migration_done": True,
            },
            version=2,
            minor_version=2,
        )
        custom = self.config_dir / "custom_components"
        custom.mkdir(exist_ok=True)
        link = custom / "microhome"
        if not link.exists():
            link.symlink_to(INTEGRATION_DIR, target_is_directory=True)
        if self.fleet_key is not None:
            self.write_storage("microhome.fleet_key", {"fleet_key": self.fleet_key.hex()})

    def write_storage(self, key: str, data: Any, version: int = 1, minor_version: int = 1) -> None:
        """Put `data` in .storage/<key> as Home Assistant's Store would (before start)."""
        storage = self.config_dir / ".storage"
        storage.mkdir(exist_ok=True)
        document = {"version": version, "minor_version": minor_version, "key": key, "data": data}
        (storage / key).write_text(json.dumps(document, indent=2))
        os.chmod(storage / key, 0o600)

    # --- the process ----------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        """Prepare the configuration (again: it is idempotent), start `hass`, wait for HTTP."""
        self.prepare()
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "homeassistant",
                    "--config",
                    str(self.config_dir),
                    "--skip-pip",
                    "--log-no-color",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_stop_with_parent,  # noqa: PLW1509
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HassError(
                    f"hass exited with {self.process.returncode}:\n{self.output_tail()}"
                )
            try:
                # Any HTTP answer will do: once onboarded, /api/onboarding is not served.
                urllib.request.urlopen(self.base_url + "/manifest.json", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise HassError(f"hass did not answer within {timeout:.0f} s:\n{self.output_tail()}")

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop `hass` the way a user would (SIGTERM: final writes are made)."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = None
        return process.returncode

    def restart(self) -> None:
        """Stop and start again on the same port and configuration, and wait until running."""
        self.stop()
        self.start()
        if self.tokens is not None:
            self.wait_until_running()

    def wait_until_running(self, timeout: float = 120.0) -> None:
        """Wait until Home Assistant has set up everything and runs (needs a token)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            try:
                state = self.request("GET", "/api/config", timeout=5).get("state")
            except OSError, HassError:
                state = None
            if state == "RUNNING":
                return
            time.sleep(0.3)
        raise HassError(f"Home Assistant is {state}, not RUNNING, after {timeout:.0f} s")

    def output_tail(self, lines: int = 60) -> str:
        """The end of hass's console output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- REST ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        form: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """One REST call; returns the decoded JSON answer (None if empty)."""
        headers = {}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            if self.tokens is None:
                raise HassError("not onboarded: no access token")
            headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            raise HassError(f"{method} {path}: HTTP {err.code}: {detail}") from None
        return json.loads(raw) if raw else None

    # --- onboarding -----------------------------------------------------------------------------

    def onboard(self, username: str, password: str, name: str = "Administrator") -> Tokens:
        """Create the owner through the onboarding API and finish every onboarding step."""
        client_id = self.base_url + "/"
        created = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
            auth=False,
        )
        self._exchange(created["auth_code"], client_id)
        self.request("POST", "/api/onboarding/core_config", {})
        self.request("POST", "/api/onboarding/analytics", {})
        self.request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": client_id, "redirect_uri": client_id + "?auth_callback=1"},
        )
        return self.tokens

    def login(self, username: str, password: str) -> Tokens:
        """Tokens for an existing user through the login flow (after a restart, say)."""
        client_id = self.base_url + "/"
        flow = self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": client_id + "?auth_callback=1",
            },
            auth=False,
        )
        result = self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": client_id, "username": username, "password": password},
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HassError(f"login refused: {result}")
        return self._exchange(result["result"], client_id)

    def _exchange(self, code: str, client_id: str) -> Tokens:
        """Trade an authorization code for this runner's tokens."""
        token = self.request(
            "POST",
            "/auth/token",
            auth=False,
            form={"grant_type": "authorization_code", "code": code, "client_id": client_id},
        )
        self.tokens = Tokens(token["access_token"], token["refresh_token"], client_id)
        return self.tokens

    # --- config flows ---------------------------------------------------------------------------

    def config_flow(self, handler: str, *steps: dict[str, Any]) -> dict[str, Any]:
        """Run a config flow through the REST API, one user input per form; returns the end."""
        result: dict[str, Any] = self.request(
            "POST", "/api/config/config_entries/flow", {"handler": handler}
        )
        for user_input in steps:
            if result.get("type") != "form":
                break
            result = self.request(
                "POST", f"/api/config/config_entries/flow/{result['flow_id']}", user_input
            )
        if result.get("type") != "create_entry":
            raise HassError(f"config flow {handler} did not create an entry: {result}")
        return result

    def add_mqtt_broker(self, host: str, port: int, **extra: Any) -> dict[str, Any]:
        """Configure Home Assistant's MQTT integration for a broker."""
        return self.config_flow(
            "mqtt",
            {
                "broker": host,
                "port": port,
                "other_settings": {"set_client_cert": False, "set_ca_cert": "off"},
                **extra,
            },
        )

    def add_microhome_node(self, node_id: str, platform: str = "rp2") -> dict[str, Any]:
        """Add a MicroHome node by id (the integration's user flow)."""
        return self.config_flow("microhome", {"node_id": node_id, "platform": platform})

    def config_entries(self, domain: str | None = None) -> list[dict[str, Any]]:
        """The config entries, optionally of one domain."""
        path = "/api/config/config_entries/entry"
        if domain:
            path += "?domain=" + urllib.parse.quote(domain)
        entries: list[dict[str, Any]] = self.request("GET", path)
        return entries

    def wait_for_entry(self, domain: str, state: str = "loaded", timeout: float = 60.0) -> None:
        """Wait until an entry of `domain` reaches `state`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(entry["state"] == state for entry in self.config_entries(domain)):
                return
            time.sleep(0.3)
        raise HassError(f"no {domain} entry became {state}: {self.config_entries(domain)}")
