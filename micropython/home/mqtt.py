# MQTTManager: the node's MQTT session, topics and subscriptions. The lean updater
# (home/updater.py) has one too, without a home: it only publishes.
from home.lib.mqtt_client import MQTTClient


class MQTTManager:
    def __init__(self, config, node_id, log, net, home=None):
        self.prefix = prefix = "microhome/%s/" % node_id
        tls = None
        if getattr(config, "MQTT_TLS", False):
            from home.broker_tls import BrokerTLS

            server_name = getattr(config, "MQTT_SERVER_NAME", None) or config.MQTT_HOST
            ca = getattr(config, "MQTT_CA", "ca.pem")
            tls = BrokerTLS(ca, server_name, log, getattr(config, "NTP_HOST", None))
        self.client = MQTTClient(
            node_id,
            config.MQTT_HOST,
            getattr(config, "MQTT_PORT", 1883),
            getattr(config, "MQTT_USER", None),
            getattr(config, "MQTT_PASSWORD", None),
            keepalive=getattr(config, "MQTT_KEEPALIVE", 30),
            will=(prefix + "status", b"offline", True, 1),
            log=log,
            net=net,
            tls=tls,
        )
        if home:
            client = self.client
            client.inbox = home.inbox
            client.rx_max = len(home.inbox.mv)
            client.on_message = home.receive
            client.on_connect = home.on_connect
            client.on_down = home.connected.clear
            client.subs = [
                (prefix + "config/set", 1),
                (prefix + "cmd", 1),
                ("microhome/discover", 0),
                ("homeassistant/status", 0),
            ]

    def topic(self, suffix):
        return self.prefix + suffix

    def up(self):
        return self.client.up.is_set()

    async def publish(self, suffix, msg, retain=False, qos=0):
        return await self.client.publish(self.prefix + suffix, msg, retain, qos)

    async def run(self):
        await self.client.run()
