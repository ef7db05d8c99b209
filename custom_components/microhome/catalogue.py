"""The peripheral catalogue: every peripheral type a node can run, as data.

The one source of truth for both sides. The integration validates configurations, builds the
options-flow forms and creates entities from it; `microhome catalogue` generates the
firmware's compact table (micropython/home/catalogue.py) and the English texts in
strings.json from it. Plain Python with no Home Assistant imports.

Adding a peripheral type: an entry in TYPES, a driver in micropython/home/sensors/<type>.py,
`microhome catalogue` to regenerate, tests (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

type Pin = int | str
type Role = Literal["in", "io", "out", "pwm", "adc"]
type ValueKind = Literal["bool", "int", "number", "str"]
# Parameter kinds: "choice" is one of `choices`; "str" a text of at most `high` characters.
type ParamKind = Literal["int", "bool", "number", "choice", "str"]
type Bus = Literal["i2c", "onewire"]

PLATFORMS: Final = ("rp2", "esp32", "unix")
PLATFORM_NAMES: Final = {
    "rp2": "Raspberry Pi Pico W (rp2)",
    "esp32": "ESP32",
    "unix": "Simulator (unix)",
}

# Pin roles: "in" a digital input with interrupts, "io" a bidirectional (open-drain) data pin,
# "out" a digital output, "pwm" a PWM output, "adc" an analog input.
ROLES: Final[tuple[Role, ...]] = ("in", "io", "out", "pwm", "adc")

_RP2: Final[tuple[Pin, ...]] = (*range(23), 26, 27, 28, "LED")
# ESP32: 6-11 drive the flash, 20, 24 and 28-31 are not bonded out; 34-39 are input-only.
_ESP32_OUT: Final[tuple[Pin, ...]] = tuple(
    p for p in range(34) if p not in (6, 7, 8, 9, 10, 11, 20, 24, 28, 29, 30, 31)
)
_ESP32_IN: Final[tuple[Pin, ...]] = (*_ESP32_OUT, *range(34, 40))
# Analog inputs: rp2 GP26-GP28; esp32 ADC1 only (GPIO 32-39), ADC2 is unusable while Wi-Fi runs.
_RP2_ADC: Final[tuple[Pin, ...]] = (26, 27, 28)
_ESP32_ADC: Final[tuple[Pin, ...]] = tuple(range(32, 40))

# platform -> role -> the pins that may take that role, in the order forms offer them.
PINS: Final[dict[str, dict[Role, tuple[Pin, ...]]]] = {
    "rp2": {"in": _RP2, "io": _RP2, "out": _RP2, "pwm": _RP2, "adc": _RP2_ADC},
    "esp32": {
        "in": _ESP32_IN,
        "io": _ESP32_OUT,
        "out": _ESP32_OUT,
        "pwm": _ESP32_OUT,
        "adc": _ESP32_ADC,
    },
    "unix": {
        "in": (*_ESP32_IN, "LED"),
        "io": (*_ESP32_OUT, "LED"),
        "out": (*_ESP32_OUT, "LED"),
        "pwm": (*_ESP32_OUT, "LED"),
        "adc": (*_RP2_ADC, *_ESP32_ADC),
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    """A configuration parameter of a peripheral (a field of its `sensors` item)."""

    key: str
    kind: ParamKind
    default: int | float | bool | str
    low: float = 0
    high: float = 1
    unit: str | None = None
    name: str = ""
    description: str = ""
    choices: tuple[str, ...] = ()
    # False: kept by Home Assistant only (an entity's device class or unit), never sent.
    node: bool = True


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a state payload or of a command: its JSON kind and, for numbers, range."""

    key: str
    kind: ValueKind
    low: float | None = None
    high: float | None = None
    # The values a str may take.
    choices: tuple[str, ...] = ()
    # Told once, in a state message that is not retained (a button's event); absent otherwise,
    # and ignored in a retained message (an old one, after a restart or reconnect).
    once: bool = False
    # A state field some models of the type do not report (a BMP280's humidity).
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity Home Assistant shows for a peripheral.

    key None: the peripheral's main entity, named after it, unique id `<node>_<id>`; otherwise
    its unique id ends in `_<key>` and its name is translated (`entity.<platform>.<key>`).
    value: the state field the entity shows (sensor and binary_sensor).
    """

    platform: Literal["sensor", "binary_sensor", "light", "switch", "number", "event"]
    key: str | None = None
    value: str | None = None
    unit: str | None = None
    precision: int | None = None
    device_class: str | None = None
    state_class: str | None = None
    name: str = ""
    # The parameters whose values, when set, give the unit and device class instead.
    unit_param: str | None = None
    device_class_param: str | None = None
    # The bool parameter that must be on for the entity to exist (a button's events).
    when: str | None = None
    # Only for peripherals whose `model` parameter is one of these; () for every one.
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeripheralType:
    """One peripheral type: how it attaches, its parameters, what it reports and accepts."""

    key: str
    name: str
    wiring: str
    role: Role
    params: tuple[Param, ...] = ()
    state: tuple[Field, ...] = ()
    # The state may be `{"error": str}` instead (a sensor whose reading failed).
    state_error: bool = False
    entities: tuple[Entity, ...] = ()
    # The fields of the `set` command (each optional); () when the type takes no `set`.
    set_fields: tuple[Field, ...] = ()
    # At most one of this type per node.
    single: bool = False
    # On a bus instead of a pin of its own: "i2c" (a `bus` object and an `address` of
    # `addresses`, the first the default) or "onewire" (a `pin` shared by the probes on it,
    # each with its `rom` code).
    bus: Bus | None = None
    addresses: tuple[int, ...] = ()
    # Pairs of parameters that must differ (the two points of a calibration).
    distinct: tuple[tuple[str, str], ...] = ()

    @property
    def filterable(self) -> tuple[str, ...]:
        """The measured values filters may apply to: the number fields of an input."""
        if self.set_fields:
            return ()
        return tuple(field.key for field in self.state if field.kind == "number")

    def param(self, key: str) -> Param:
        """The parameter called key."""
        return next(param for param in self.params if param.key == key)

    @property
    def defaults(self) -> dict[str, int | float | bool | str]:
        """Every parameter's default."""
        return {param.key: param.default for param in self.params}


_ON: Final = Field("on", "bool")
BUTTON_EVENTS: Final = ("press", "double_press", "long_press")
# The device classes a user may choose ("none": none); Home Assistant's own keys.
BINARY_DEVICE_CLASSES: Final = (
    "opening",
    "door",
    "window",
    "garage_door",
    "lock",
    "moisture",
    "problem",
    "running",
    "power",
    "occupancy",
    "vibration",
    "none",
)
SENSOR_DEVICE_CLASSES: Final = (
    "none",
    "temperature",
    "humidity",
    "pressure",
    "distance",
    "volume",
    "weight",
    "current",
    "voltage",
    "power",
    "illuminance",
    "moisture",
)
# The largest magnitude of a calibration point and of a filter's numbers.
CALIBRATION_MAX: Final = 1_000_000


def _measurement(
    key: str,
    unit: str,
    *,
    precision: int,
    device_class: str | None = None,
    name: str | None = None,
    models: tuple[str, ...] = (),
) -> Entity:
    """A sensor of a measured value (its device class, by default its key), with statistics."""
    return Entity(
        "sensor",
        key=key,
        value=key,
        unit=unit,
        precision=precision,
        device_class=device_class or key,
        state_class="measurement",
        name=f"{{sensor}} {name or key}",
        models=models,
    )


_INTERVAL: Final = Param(
    "interval",
    "int",
    30,
    2,
    86400,
    "s",
    name="Read interval",
    description="Seconds between readings, 2-86400.",
)


def _model(*choices: str) -> Param:
    return Param(
        "model",
        "choice",
        choices[0],
        name="Model",
        description="The chip on the board.",
        choices=choices,
    )


_TEMPERATURE = _measurement("temperature", "°C", precision=1)
_HUMIDITY = _measurement("humidity", "%", precision=1)
_HUMIDITY_FIELD = Field("humidity", "number", 0, 100)
_SENSIRION_TEMPERATURE = Field("temperature", "number", -45, 130)  # what 16 bits can say


def _i2c_sensor(
    key: str,
    part: str,
    addresses: tuple[int, ...],
    address_note: str,
    *,
    state: tuple[Field, ...],
    entities: tuple[Entity, ...],
    model: Param | None = None,
) -> PeripheralType:
    """A sensor read every `interval` on an I2C bus, at one of its chip's addresses."""
    return PeripheralType(
        key=key,
        name=f"{part} (I2C)",
        wiring=f"SDA and SCL to the bus pins, VCC to 3.3 V, GND to GND; {address_note}.",
        role="io",
        bus="i2c",
        addresses=addresses,
        params=(_INTERVAL,) if model is None else (_INTERVAL, model),
        state=state,
        state_error=True,
        entities=entities,
    )


def _point(key: str, default: float, name: str, description: str, unit: str | None = None) -> Param:
    """A coordinate of a calibration point: a number within ±CALIBRATION_MAX."""
    return Param(
        key,
        "number",
        default,
        -CALIBRATION_MAX,
        CALIBRATION_MAX,
        unit,
        name=name,
        description=description,
    )


_FREQ: Final = Param(
    "freq", "int", 1000, 100, 40000, "Hz", name="PWM frequency", description="Hz, 100-40000."
)

_INVERTED: Final = Param(
    "inverted", "bool", False, name="Inverted", description="Low means on: the pin is low while on."
)

TYPES: Final[dict[str, PeripheralType]] = {
    peripheral.key: peripheral
    for peripheral in (
        PeripheralType(
            key="dht22",
            name="DHT22 temperature and humidity",
            wiring="Data to the pin with a 10 kΩ pull-up to 3.3 V; VCC to 3.3 V, GND to GND.",
            role="io",
            state=(
                Field("temperature", "number", -40, 125),
                Field("humidity", "number", 0, 100),
            ),
            state_error=True,
            entities=(
                _measurement("temperature", "°C", precision=1),
                _measurement("humidity", "%", precision=1),
            ),
            params=(_INTERVAL,),
        ),
        PeripheralType(
            key="motion",
            name="PIR motion sensor",
            wiring="OUT to the pin; VCC to 5 V (or 3.3 V for 3.3 V modules), GND to GND.",
            role="in",
            params=(
                Param(
                    "off_delay",
                    "int",
                    30,
                    0,
                    3600,
                    "s",
                    name="Motion off delay",
                    description="Seconds without motion before the sensor turns off, 0-3600.",
                ),
            ),
            state=(Field("motion", "bool"),),
            entities=(Entity("binary_sensor", value="motion", device_class="motion"),),
        ),
        PeripheralType(
            key="led",
            name="Dimmable LED",
            wiring="Pin to a 220 Ω resistor to the LED's anode, cathode to GND.",
            role="pwm",
            state=(_ON, Field("brightness", "int", 0, 255)),
            entities=(Entity("light"),),
            set_fields=(
                _ON,
                Field("brightness", "int", 0, 255),
                Field("transition", "number", 0, 60),
            ),
            params=(_FREQ,),
        ),
        PeripheralType(
            key="status_led",
            name="Status LED",
            wiring="The board's own LED (LED on a Pico W), or pin to 220 Ω and an LED to GND.",
            role="out",
            state=(_ON,),
            entities=(Entity("light"),),
            set_fields=(_ON,),
            single=True,
        ),
        PeripheralType(
            key="relay",
            name="Relay",
            wiring=(
                "IN to the pin, VCC and GND to the relay module's supply; turn on Inverted"
                " for a module that switches on a low input."
            ),
            role="out",
            params=(
                _INVERTED,
                Param(
                    "max_on",
                    "int",
                    0,
                    0,
                    86400,
                    "s",
                    name="Maximum on-time",
                    description=(
                        "Seconds after which the node itself turns the relay off, 0-86400;"
                        " 0: no limit."
                    ),
                ),
            ),
            state=(_ON,),
            entities=(Entity("switch"),),
            set_fields=(_ON,),
        ),
        PeripheralType(
            key="binary_input",
            name="Contact or button",
            wiring=(
                "A contact or button between the pin and GND with Pull up and Inverted on"
                " (or to 3.3 V with Pull down); a reed contact the same way."
            ),
            role="in",
            params=(
                Param(
                    "pull",
                    "choice",
                    "none",
                    choices=("none", "up", "down"),
                    name="Pull resistor",
                    description="The pin's internal pull-up or pull-down resistor.",
                ),
                _INVERTED,
                Param(
                    "debounce_ms",
                    "int",
                    50,
                    5,
                    1000,
                    "ms",
                    name="Debounce",
                    description="Milliseconds a new level must hold to count, 5-1000.",
                ),
                Param(
                    "events",
                    "bool",
                    False,
                    name="Button",
                    description="Also report press, double press and long press.",
                ),
                Param(
                    "long_ms",
                    "int",
                    1000,
                    200,
                    10000,
                    "ms",
                    name="Long press",
                    description="Milliseconds held for a long press, 200-10000.",
                ),
                Param(
                    "double_ms",
                    "int",
                    400,
                    100,
                    2000,
                    "ms",
                    name="Double press gap",
                    description="Milliseconds within which a second press is a double press.",
                ),
                Param(
                    "device_class",
                    "choice",
                    "opening",
                    choices=BINARY_DEVICE_CLASSES,
                    name="Device class",
                    description="What it is, for Home Assistant's icons, states and statistics.",
                    node=False,
                ),
            ),
            state=(
                _ON,
                Field("event", "str", choices=BUTTON_EVENTS, once=True),
            ),
            entities=(
                Entity("binary_sensor", value="on", device_class_param="device_class"),
                Entity("event", key="button", value="event", name="{sensor} button", when="events"),
            ),
        ),
        PeripheralType(
            key="pwm_output",
            name="PWM output",
            wiring=(
                "Pin to the gate of a logic-level MOSFET (or a motor driver's PWM input) that"
                " switches the pump, fan or heater from its own supply; common GND."
            ),
            role="pwm",
            params=(_FREQ,),
            state=(Field("duty", "number", 0, 100),),
            entities=(Entity("number", value="duty", unit="%"),),
            set_fields=(Field("duty", "number", 0, 100),),
        ),
        PeripheralType(
            key="adc",
            name="Analog input",
            wiring=(
                "The voltage to the ADC pin (0-3.3 V; a divider for more), its ground to GND;"
                " a potentiometer between 3.3 V and GND with its wiper to the pin."
            ),
            role="adc",
            params=(
                _INTERVAL,
                _point("volts1", 0.0, "First voltage", "A voltage you measured.", "V"),
                _point("value1", 0.0, "First value", "The value it stands for."),
                _point("volts2", 3.3, "Second voltage", "Another voltage.", "V"),
                _point("value2", 3.3, "Second value", "The value that stands for."),
                Param(
                    "unit",
                    "str",
                    "V",
                    0,
                    16,
                    name="Unit",
                    description="The calibrated value's unit (V, %, bar, cm, ...).",
                    node=False,
                ),
                Param(
                    "device_class",
                    "choice",
                    "none",
                    choices=SENSOR_DEVICE_CLASSES,
                    name="Device class",
                    description="What it is, for Home Assistant's icons, states and statistics.",
                    node=False,
                ),
            ),
            state=(
                Field("voltage", "number", 0, 5),
                Field("value", "number", -CALIBRATION_MAX * 1000, CALIBRATION_MAX * 1000),
            ),
            state_error=True,
            entities=(
                _measurement("voltage", "V", precision=3),
                Entity(
                    "sensor",
                    key="value",
                    value="value",
                    precision=2,
                    state_class="measurement",
                    name="{sensor} value",
                    unit_param="unit",
                    device_class_param="device_class",
                ),
            ),
            distinct=(("volts1", "volts2"),),
        ),
        _i2c_sensor(
            "aht20",
            "AHT20 / AHT10 temperature and humidity",
            (0x38, 0x39),
            "address 0x38",
            state=(Field("temperature", "number", -50, 150), _HUMIDITY_FIELD),
            entities=(_TEMPERATURE, _HUMIDITY),
            model=_model("aht20", "aht10"),
        ),
        *(
            _i2c_sensor(
                key,
                f"{part} temperature and humidity",
                addresses,
                note,
                state=(_SENSIRION_TEMPERATURE, _HUMIDITY_FIELD),
                entities=(_TEMPERATURE, _HUMIDITY),
            )
            for key, part, addresses, note in (
                ("sht3x", "SHT3x", (0x44, 0x45), "address 0x44, 0x45 with ADDR high"),
                ("sht4x", "SHT4x", (0x44, 0x45, 0x46), "address 0x44 (0x45, 0x46 on some parts)"),
            )
        ),
        _i2c_sensor(
            "bme280",
            "BME280 / BMP280 temperature, humidity and pressure",
            (0x76, 0x77),
            "address 0x76, 0x77 with SDO high",
            state=(
                Field("temperature", "number", -50, 100),
                Field("humidity", "number", 0, 100, optional=True),
                Field("pressure", "number", 0, 2000),
            ),
            entities=(
                _TEMPERATURE,
                _measurement("humidity", "%", precision=1, models=("bme280",)),
                _measurement("pressure", "hPa", precision=1, device_class="atmospheric_pressure"),
            ),
            model=_model("bme280", "bmp280"),
        ),
        _i2c_sensor(
            "bh1750",
            "BH1750 illuminance",
            (0x23, 0x5C),
            "address 0x23, 0x5C with ADDR high",
            state=(Field("illuminance", "number", 0, 100000),),
            entities=(_measurement("illuminance", "lx", precision=0),),
        ),
        _i2c_sensor(
            "scd4x",
            "SCD40 / SCD41 CO2, temperature and humidity",
            (0x62,),
            "address 0x62",
            state=(Field("co2", "int", 0, 40000), _SENSIRION_TEMPERATURE, _HUMIDITY_FIELD),
            entities=(
                _measurement("co2", "ppm", precision=0, device_class="carbon_dioxide", name="CO2"),
                _TEMPERATURE,
                _HUMIDITY,
            ),
        ),
        PeripheralType(
            key="ds18b20",
            name="DS18B20 temperature probe (1-Wire)",
            wiring=(
                "Data of every probe to the pin with one 4.7 kΩ pull-up to 3.3 V; VDD to 3.3 V,"
                " GND to GND."
            ),
            role="io",
            bus="onewire",
            params=(_INTERVAL,),
            state=(Field("temperature", "number", -55, 125),),
            state_error=True,
            entities=(_TEMPERATURE,),
        ),
    )
}

# A peripheral's `filters`: value -> these settings, each optional (docs/protocol.md, "Filters").
# The node applies them in this order: the mean or median of the last `window` readings, the
# line through (raw1, ref1) and (raw2, ref2), the offset; then it publishes only when a value
# moved by at least `delta` or `heartbeat` seconds passed since it last published.
FILTER_PARAMS: Final[tuple[Param, ...]] = (
    Param(
        "window",
        "int",
        1,
        1,
        16,
        name="Readings averaged",
        description="The mean or median of this many last readings, 1-16; 1: none.",
    ),
    Param(
        "average",
        "choice",
        "median",
        choices=("median", "mean"),
        name="Average",
        description="Median (drops spikes) or mean (smooths noise).",
    ),
    _point("raw1", 0, "First reading", "What the sensor reads at a first known point."),
    _point("ref1", 0, "First true value", "The true value at that point."),
    _point("raw2", 1, "Second reading", "What it reads at a second point (not the first)."),
    _point("ref2", 1, "Second true value", "The true value at that point."),
    Param(
        "offset",
        "number",
        0,
        -CALIBRATION_MAX,
        CALIBRATION_MAX,
        name="Offset",
        description="Added to the value after the calibration.",
    ),
    Param(
        "delta",
        "number",
        0,
        0,
        CALIBRATION_MAX,
        name="Publish on a change of",
        description="Publish only when the value moved by at least this; 0: every reading.",
    ),
    Param(
        "heartbeat",
        "int",
        0,
        0,
        86400,
        "s",
        name="Publish at least every",
        description="Seconds after which the value is published anyway, 0-86400; 0: never.",
    ),
)
FILTER_DISTINCT: Final = (("raw1", "raw2"),)

# Configuration limits (docs/protocol.md, "Configuration limits").
NAME_MAX: Final = 32
MAX_PERIPHERALS: Final = 16
TELEMETRY_INTERVAL: Final = (5, 86400)
I2C_BUSES_MAX: Final = 2
I2C_FREQ: Final = (10000, 400000)
I2C_FREQ_DEFAULT: Final = 100000
# rp2: the SDA and the SCL pins of I2C0 and of I2C1 (a bus takes both from one controller).
# esp32 (and the simulator): any two output-capable pins, on either controller.
RP2_I2C: Final[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = (
    ((0, 4, 8, 12, 16, 20), (1, 5, 9, 13, 17, 21)),
    ((2, 6, 10, 14, 18, 26), (3, 7, 11, 15, 19, 27)),
)


def pins(platform: str, role: Role) -> tuple[Pin, ...]:
    """The pins that may take role on platform (none for an unknown platform)."""
    return PINS.get(platform, {}).get(role, ())


def pin_error(platform: str, peripheral_type: str, pin: object) -> str | None:
    """Why pin cannot serve a peripheral of peripheral_type on platform, or None if it can."""
    is_int = isinstance(pin, int) and not isinstance(pin, bool)
    if not (is_int or pin == "LED"):
        return f'{pin!r} is not a GPIO number or "LED"'
    role = TYPES[peripheral_type].role
    if pin in pins(platform, role):
        return None
    if role == "adc":
        return f"{pin} is not an analog input on {platform}"
    if pin in pins(platform, "in"):
        return f"{pin} is input-only, a {peripheral_type} needs an output"
    return f"{pin} is not a usable pin on {platform}"


def shows(entity: Entity, peripheral: dict[str, object]) -> bool:
    """Whether a configured peripheral has entity (some are only for some models, or while a
    parameter is on)."""
    if entity.when is not None and not peripheral.get(entity.when):
        return False
    if not entity.models:
        return True
    kind = TYPES.get(str(peripheral.get("type")))
    default = kind.defaults.get("model") if kind is not None else None
    return peripheral.get("model", default) in entity.models


def i2c_controller(platform: str, sda: Pin) -> int | None:
    """rp2: the I2C controller whose SDA pin sda is (None if none); elsewhere 0."""
    if platform != "rp2":
        return 0
    return next((n for n, (sdas, _) in enumerate(RP2_I2C) if sda in sdas), None)


def i2c_pins(platform: str, line: Literal["sda", "scl"], sda: Pin | None = None) -> list[Pin]:
    """The pins that may be line of an I2C bus on platform (SCL: of the controller of sda)."""
    if platform != "rp2":
        return list(pins(platform, "io"))
    if line == "sda":
        return [pin for sdas, _ in RP2_I2C for pin in sdas]
    controller = i2c_controller(platform, sda) if sda is not None else None
    return [pin for n, (_, scls) in enumerate(RP2_I2C) for pin in scls if controller in (None, n)]


def i2c_pin_error(platform: str, sda: Pin, scl: Pin) -> tuple[str, str] | None:
    """Why two usable pins cannot be the SDA and SCL of an I2C bus: (field, reason), or None."""
    if platform != "rp2":
        return ("scl", f"{scl} is also SDA") if sda == scl else None
    controller = i2c_controller(platform, sda)
    if controller is None:
        return "sda", f"{sda} is not an I2C SDA pin on rp2"
    if scl not in RP2_I2C[controller][1]:
        return "scl", f"{scl} is not an SCL pin of I2C{controller} (SDA {sda})"
    return None
