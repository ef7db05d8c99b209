"""The broker helper lives in the tools package; tests import it from here too."""

from microhome_tools.broker import Mosquitto
from microhome_tools.common import free_port

__all__ = ["Mosquitto", "free_port"]
