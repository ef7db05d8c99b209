"""The sidebar panel: registered for admins and served from the integration's folder."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.components.frontend import DATA_PANELS
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.microhome import panel

from .test_logs import microhome  # noqa: F401

PANEL_JS = (
    Path(__file__).parents[2]
    / "custom_components"
    / "microhome"
    / "frontend"
    / "microhome-panel.js"
)

pytestmark = pytest.mark.usefixtures("microhome")


async def test_panel_is_in_the_sidebar_for_admins(hass: HomeAssistant) -> None:
    panel = hass.data[DATA_PANELS]["microhome"].to_response()
    assert panel["component_name"] == "custom"
    assert panel["title"] == "MicroHome"
    assert panel["icon"] == "mdi:chip"
    assert panel["require_admin"] is True
    custom = panel["config"]["_panel_custom"]
    assert custom["name"] == "microhome-panel"
    assert custom["embed_iframe"] is False
    assert custom["module_url"].startswith("/microhome_static/microhome-panel.js?v=")


async def test_panel_module_is_served(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    module_url = hass.data[DATA_PANELS]["microhome"].config["_panel_custom"]["module_url"]
    client = await hass_client()
    response = await client.get(module_url)
    assert response.status == 200
    assert response.content_type in ("application/javascript", "text/javascript")
    body = await response.text()
    assert body == PANEL_JS.read_text()
    assert 'customElements.define("microhome-panel"' in body

    missing = await client.get("/microhome_static/nothing-here.js")
    assert missing.status == 404


async def test_module_url_changes_with_the_file(tmp_path: Path) -> None:
    """Browsers never run a stale panel: the URL carries a hash of the file."""
    copy = tmp_path / "microhome-panel.js"
    copy.write_bytes(PANEL_JS.read_bytes())
    with patch.object(panel, "FRONTEND_DIR", tmp_path):
        first = panel._file_version()
        copy.write_bytes(PANEL_JS.read_bytes() + b"// changed\n")
        assert panel._file_version() != first
