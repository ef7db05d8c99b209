"""The MicroHome sidebar panel: a plain ES module served from the integration's folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components import panel_custom
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .const import DOMAIN

FRONTEND_DIR = Path(__file__).parent / "frontend"
PANEL_FILE = "microhome-panel.js"
STATIC_URL = f"/{DOMAIN}_static"
PANEL_URL_PATH = DOMAIN
WEBCOMPONENT = "microhome-panel"
SIDEBAR_TITLE = "MicroHome"
SIDEBAR_ICON = "mdi:chip"


def _file_version() -> str:
    return hashlib.sha256((FRONTEND_DIR / PANEL_FILE).read_bytes()).hexdigest()[:12]


async def async_register_panel(hass: HomeAssistant) -> None:
    """Serve the frontend folder and add the admin-only sidebar panel."""
    version = await hass.async_add_executor_job(_file_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STATIC_URL, str(FRONTEND_DIR), cache_headers=False)]
    )
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_URL_PATH,
        webcomponent_name=WEBCOMPONENT,
        sidebar_title=SIDEBAR_TITLE,
        sidebar_icon=SIDEBAR_ICON,
        module_url=f"{STATIC_URL}/{PANEL_FILE}?v={version}",
        require_admin=True,
        config={},
    )
