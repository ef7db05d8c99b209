# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit.
# type on an I2C bus -> its addresses (a 1-Wire type: b"")
ADDRESSES = {
    "aht20": b"\x38\x39",
    "sht3x": b"\x44\x45",
    "sht4x": b"\x44\x45\x46",
    "bme280": b"\x76\x77",
    "bh1750": b"\x23\x5c",
    "scd4x": b"\x62",
    "ds18b20": b"",
}
# I2C: lowest, highest and default frequency, buses at most
I2C = (10000, 400000, 100000, 2)
# rp2: SDA pins of I2C0, its SCL pins, SDA pins of I2C1, its SCL pins
RP2_I2C = (b"\x00\x04\x08\x0c\x10\x14", b"\x01\x05\x09\x0d\x11\x15", b"\x02\x06\x0a\x0e\x12\x1a", b"\x03\x07\x0b\x0f\x13\x1b")
