# Runs on MicroPython: what waits on asyncio's poller with the heap taken but for its smallest
# 0, 1, 2... pieces: the MQTT client's socket reads (home/lib/mqtt_client.py) on a real
# loopback socket, the data there before the read or arriving after it, and a pin interrupt's
# ThreadSafeFlag waited for as the drivers do (home.sensors.flag_wait). micropython
# mp_poller_heap.py PORT (MICROPYPATH: the firmware). Prints "ok" at the end; a read lost, or
# the interpreter crashing (as MicroPython's poll does after running out of memory in
# register()), fails it.
import asyncio
import gc
import sys

Flag = asyncio.ThreadSafeFlag  # the real one (the sim's machine module puts its own there)

from home.lib.mqtt_client import MQTTClient  # noqa: E402
from home.sensors import flag_wait  # noqa: E402

_held = [None] * 1000


def take(left):
    """Hold every byte of the heap but the `left` smallest pieces held."""
    gc.collect()
    n = 0
    size = 4096
    while size:
        try:
            _held[n] = bytearray(size)
            n += 1
        except MemoryError:
            size //= 2
    while left:  # nothing allocated: the heap is taken
        left -= 1
        n -= 1
        _held[n] = None


def release():
    i = len(_held)
    while i:  # nothing allocated: the heap is still taken
        i -= 1
        _held[i] = None
    gc.collect()


async def later(peer, go, data_first):
    """The heap back 20 ms after the read began, then the data if it was not there."""
    await go.wait()
    await asyncio.sleep_ms(20)
    release()
    if not data_first:
        peer.write(b"A")
        await peer.drain()


async def pin_interrupt(flag, go):
    """A driver's wait for its flag, begun with the heap taken; the interrupt once it is back."""
    await go.wait()
    await asyncio.sleep_ms(20)
    release()
    flag.set()


async def flag_trial(left):
    flag, go = Flag(), asyncio.Event()
    helper = asyncio.create_task(pin_interrupt(flag, go))
    await asyncio.sleep_ms(0)
    take(left)
    go.set()
    while True:
        try:
            await flag_wait(flag)
            break
        except MemoryError:  # as a driver's task: started again later
            await asyncio.sleep_ms(50)
    await helper


async def trial(client, peer, view, left, data_first):
    view[0] = 0
    if data_first:
        peer.write(b"A")
        await peer.drain()
        await asyncio.sleep_ms(5)
    go = asyncio.Event()
    helper = asyncio.create_task(later(peer, go, data_first))
    await asyncio.sleep_ms(0)  # it waits for go now, before the heap is taken
    fill = client._fill(view, 0, 1)  # made before the heap is taken
    take(left)
    go.set()
    await fill
    await helper
    assert view[0] == 65, (left, data_first, view[0])


async def main(port):
    peers = []

    async def accepted(r, w):
        peers.append(w)

    server = await asyncio.start_server(accepted, "127.0.0.1", port)
    r, w = await asyncio.open_connection("127.0.0.1", port)
    while not peers:
        await asyncio.sleep_ms(5)
    client = MQTTClient("heap", "127.0.0.1")
    client._reader, client._writer = r, w
    view = memoryview(bytearray(1))
    for data_first in (True, False):
        for left in range(16):
            await trial(client, peers[0], view, left, data_first)
    for left in range(16):
        await flag_trial(left)
    server.close()
    print("ok")


asyncio.run(main(int(sys.argv[1])))
