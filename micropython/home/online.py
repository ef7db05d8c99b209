# What a node publishes when it comes online (after every connect) and its announce: imported
# for each (home/rare.py), so a running node does not keep it in the heap.
import asyncio
import json
from random import getrandbits

from home import PLATFORM, board
from home.version import VERSION


def body(home):
    body = {
        "id": home.node_id,
        "name": home.cfg["name"] or home.node_name,
        "platform": PLATFORM,
        "board": board.BOARD,
        "fw": VERSION,
        "mpy": board.MPY,
        "mac": home.wifi.mac(),
        "ip": home.wifi.ip(),
        "caps": home.caps,
        "cfg": home.cfg["version"],
        "key_id": home.key_id,
    }
    if home.safe_mode:
        body["safe_mode"] = home.safe_mode
    return json.dumps(body)


async def announce(home):
    await home.mqtt.publish("announce", body(home), True, 1)


async def later(home):
    """Announce and telemetry, after a random wait: a node just added in Home Assistant shows
    its diagnostics now, and not all nodes at once."""
    await asyncio.sleep_ms(getrandbits(11) % 2001)
    await announce(home)
    await home.telemetry()


async def burst(home):
    """The burst after a connect."""
    await home.mqtt.publish("status", b"online", True, 1)
    await announce(home)
    await home.publish_ota()
    await home.publish_states()
    await home.telemetry()
