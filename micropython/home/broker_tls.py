# TLS to the broker (config.MQTT_TLS), imported only when it is on: the broker's certificate
# must chain to the CA in config.MQTT_CA and name MQTT_SERVER_NAME (default: MQTT_HOST).
import tls


class BrokerTLS:
    def __init__(self, ca_file, server_hostname, log):
        self.ca_file = ca_file
        self.server_hostname = server_hostname
        self.log = log
        self.ctx = None
        try:
            self.context()  # now, while the heap has room for its ~2 KB in one piece
        except OSError:
            pass  # logged; every connect tries again

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

    def __call__(self, sock):
        """sock in TLS; the handshake runs on the first read or write."""
        return self.context().wrap_socket(
            sock, server_hostname=self.server_hostname, do_handshake_on_connect=False
        )
