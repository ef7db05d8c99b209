# The MQTT client's connect (home/lib/mqtt_client.py): CONNECT, its CONNACK, SUBSCRIBE.
# Imported for each connect attempt and dropped after it (home/rare.py): a running node does
# not keep it. A MemoryError while loading it is one more failed attempt; run() tries again.
import asyncio
import struct
from asyncio import open_connection

from micropython import const

from home import io_room
from home.lib.mqtt_client import _bytes, _put_header, _put_str

_CONNECT_TIMEOUT = const(8000)
_CONNECT_FREE = const(1024)  # the address, the socket, its streams and the poller's entry
_IPPROTO_TCP = const(6)  # lwIP and Linux alike
_TCP_NODELAY = const(1)


def _tls_refusal(e):
    """mbedTLS refuses a certificate with ValueError, the rest with an errno <= -0x1000."""
    code = e.errno if type(e) is OSError else 0
    return type(e) is ValueError or type(code) is int and code <= -0x1000


async def connect(client):
    """A new connection for client, CONNACK received and subscribed: its generation. A
    certificate the broker's TLS refuses is logged with its reason; any failure is raised."""
    try:
        return await _connect(client)
    except Exception as e:
        if client.tls and _tls_refusal(e):
            client.log("E", "TLS to %s:%d refused: %s" % (client.host, client.port, str(e).strip()))
        raise


async def _read_small(client):
    """A control packet: (kind, body memoryview); a body too long for it is skipped."""
    kind, size = await client._read_header()
    rx = client._rxv
    if size > len(rx):
        await client._skip(size)
        return kind, rx[:0]
    await client._fill(rx, 0, size)
    return kind, rx[:size]


async def _connect(client):
    client._gen += 1
    gen = client._gen
    client._reader = client._writer = None
    io_room(_CONNECT_FREE)
    r, w = await asyncio.wait_for_ms(open_connection(client.host, client.port), _CONNECT_TIMEOUT)
    try:
        w.s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass
    if client.tls:  # the handshake and the certificate check run on the first write
        try:
            w = asyncio.StreamWriter(client.tls(w.s))
        except Exception:
            w.s.close()
            raise
        r = w
    flags = 0x02  # clean session
    fields = [_bytes(client.client_id)]
    if client.will:
        topic, msg, retain, qos = client.will
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        fields += (_bytes(topic), _bytes(msg))
    if client.user:
        flags |= 0x80
        fields.append(_bytes(client.user))
        if client.password:
            flags |= 0x40
            fields.append(_bytes(client.password))
    size = 10
    for field in fields:
        size += 2 + len(field)
    async with client._lock:  # nothing else may be written before CONNECT
        client._reader = r
        client._writer = w
        buf = client._tx if size + 5 <= len(client._tx) else bytearray(size + 5)
        i = _put_header(buf, 0x10, size)
        buf[i : i + 7] = b"\x00\x04MQTT\x04"
        buf[i + 7] = flags
        struct.pack_into("!H", buf, i + 8, client.keepalive)
        i += 10
        for field in fields:
            i = _put_str(buf, i, field)
        await client._write(buf, i, gen)
        kind, body = await asyncio.wait_for_ms(_read_small(client), _CONNECT_TIMEOUT)
        if kind != 0x20 or len(body) != 2 or body[1]:
            raise OSError(-(body[1] if len(body) == 2 else 255))  # refused by the broker
        if client.subs:
            size = 2
            for topic, _ in client.subs:
                size += 3 + len(_bytes(topic))
            buf = client._tx
            i = _put_header(buf, 0x82, size)
            struct.pack_into("!H", buf, i, client._next_pid())
            i += 2
            for topic, qos in client.subs:
                i = _put_str(buf, i, _bytes(topic))
                buf[i] = qos
                i += 1
            await client._write(buf, i, gen)
    return gen
