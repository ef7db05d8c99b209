# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Imported only to check a configuration with filters.
# type -> the values filters may apply to
FILTERABLE = {"dht22": ("temperature", "humidity"), "adc": ("voltage", "value"), "aht20": ("temperature", "humidity"), "sht3x": ("temperature", "humidity"), "sht4x": ("temperature", "humidity"), "bme280": ("temperature", "humidity", "pressure"), "bh1750": ("illuminance",), "scd4x": ("temperature", "humidity"), "ds18b20": ("temperature",)}
# a value's filter settings (protocol.md, Filters): (key, kind, default, low, high)
FILTER = (("window", "i", 1, 1, 16), ("average", "c", "median", ("median", "mean"), 1), ("raw1", "n", 0, -1000000, 1000000), ("ref1", "n", 0, -1000000, 1000000), ("raw2", "n", 1, -1000000, 1000000), ("ref2", "n", 1, -1000000, 1000000), ("offset", "n", 0, -1000000, 1000000), ("delta", "n", 0, 0, 1000000), ("heartbeat", "i", 0, 0, 86400))
FILTER_DISTINCT = (("raw1", "raw2"),)
