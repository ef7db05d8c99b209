# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Imported with home/check.py while a configuration is checked, then
# dropped. Kinds: i int, b bool (T, F), n number, c choice (low: the choices, /).
# type -> (params as `param kind default low high` rows joined by `;`, pairs of
#          params that must differ as `param param` rows): strings, not tuples of
#          names, so that dropping the table leaves no interned names behind
PARAMS = dict(
    dht22=("interval i 30 2 86400", ""),
    motion=("off_delay i 30 0 3600", ""),
    led=("freq i 1000 100 40000", ""),
    status_led=("", ""),
    relay=("inverted b F 0 1;max_on i 0 0 86400", ""),
    binary_input=("pull c none none/up/down 1;inverted b F 0 1;debounce_ms i 50 5 1000;events b F 0 1;long_ms i 1000 200 10000;double_ms i 400 100 2000", ""),
    pwm_output=("freq i 1000 100 40000", ""),
    adc=("interval i 30 2 86400;volts1 n 0.0 -1000000 1000000;value1 n 0.0 -1000000 1000000;volts2 n 3.3 -1000000 1000000;value2 n 3.3 -1000000 1000000", "volts1 volts2"),
    aht20=("interval i 30 2 86400;model c aht20 aht20/aht10 1", ""),
    sht3x=("interval i 30 2 86400", ""),
    sht4x=("interval i 30 2 86400", ""),
    bme280=("interval i 30 2 86400;model c bme280 bme280/bmp280 1", ""),
    bh1750=("interval i 30 2 86400", ""),
    scd4x=("interval i 30 2 86400", ""),
    ds18b20=("interval i 30 2 86400", ""),
)
