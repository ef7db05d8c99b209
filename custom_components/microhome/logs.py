"""Node logs: placeholder until the log issue lands."""

from homeassistant.core import HomeAssistant


async def async_setup_logs(hass: HomeAssistant) -> None:
    """Set up log ingestion, global settings, the websocket API and the panel."""
