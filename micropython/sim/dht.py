# dht for the unix port: readings from hw.json, e.g. {"pins": {"15": {"temperature": 21.5,
# "humidity": 40.0}}}; {"fail": true} times out, {"fail": "checksum"} fails the checksum.
import machine


class DHT22:
    def __init__(self, pin):
        self.name = pin.name
        self.reading = {}

    def measure(self):
        reading = machine.hw_pin(self.name)
        if type(reading) is not dict or reading.get("fail") is True:
            raise OSError(110)  # ETIMEDOUT: no sensor answering
        if reading.get("fail"):
            raise Exception("checksum error")
        self.reading = reading

    def temperature(self):
        return float(self.reading.get("temperature", 0))

    def humidity(self):
        return float(self.reading.get("humidity", 0))


DHT11 = DHT22
