# TLS to the broker (config.MQTT_TLS), imported only when it is on: the broker's certificate
# must chain to the CA in config.MQTT_CA, be valid now and name MQTT_SERVER_NAME (default:
# MQTT_HOST). mbedTLS checks the dates against the board's clock, which starts in 2000/2021
# on a board: it is set over NTP (NTP_HOST, default ntptime's) before the first handshake.
import time

import tls
from micropython import const

_CLOCK_SET_AFTER = const(2025)  # a year before this: the board's clock was never set


class BrokerTLS:
    def __init__(self, ca_file, server_hostname, log, ntp_host=None):
        self.ntp_host = ntp_host
        self.ca_file = ca_file
        self.server_hostname = server_hostname
        self.log = log
        self.ctx = None
        try:
            self.context()  # now, while the heap has room for its ~2 KB in one piece
        except (OSError, MemoryError):
            pass  # every connect tries again (an OSError was logged)

    def context(self):
        if self.ctx is None:
            ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = tls.CERT_REQUIRED
            try:
                with open(self.ca_file, "rb") as f:
                    ctx.load_verify_locations(f.read())
            except (OSError, ValueError) as e:
                self.log("E", "TLS: no usable CA certificate in %s (%r)" % (self.ca_file, e))
                raise OSError(2)  # ENOENT: the connect fails and is retried, never without TLS
            self.ctx = ctx
        return self.ctx

    def _set_clock(self):
        if time.gmtime()[0] >= _CLOCK_SET_AFTER:
            return
        try:
            import ntptime

            if self.ntp_host:
                ntptime.host = self.ntp_host
            ntptime.settime()  # blocks for at most ntptime.timeout (1 s)
            self.log("I", "clock set over NTP from %s" % ntptime.host)
        except Exception as e:  # ImportError, OSError: the certificate's dates will be refused
            self.log("W", "TLS: the clock is not set (%r)" % (e,))

    def __call__(self, sock):
        """sock in TLS; the handshake runs on the first read or write."""
        self._set_clock()
        return self.context().wrap_socket(
            sock, server_hostname=self.server_hostname, do_handshake_on_connect=False
        )
