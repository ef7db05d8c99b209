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
type Role = Literal["in", "io", "out", "pwm"]
type ValueKind = Literal["bool", "int", "number", "str"]

PLATFORMS: Final = ("rp2", "esp32", "unix")
PLATFORM_NAMES: Final = {
    "rp2": "Raspberry Pi Pico W (rp2)",
    "esp32": "ESP32",
    "unix": "Simulator (unix)",
}

# Pin roles: "in" a digital input with interrupts, "io" a bidirectional (open-drain) data pin,
# "out" a digital output, "pwm" a PWM output.
ROLES: Final[tuple[Role, ...]] = ("in", "io", "out", "pwm")

_RP2: Final[tuple[Pin, ...]] = (*range(23), 26, 27, 28, "LED")
# ESP32: 6-11 drive the flash, 20, 24 and 28-31 are not bonded out; 34-39 are input-only.
_ESP32_OUT: Final[tuple[Pin, ...]] = tuple(
    p for p in range(34) if p not in (6, 7, 8, 9, 10, 11, 20, 24, 28, 29, 30, 31)
)
_ESP32_IN: Final[tuple[Pin, ...]] = (*_ESP32_OUT, *range(34, 40))

# platform -> role -> the pins that may take that role, in the order forms offer them.
PINS: Final[dict[str, dict[Role, tuple[Pin, ...]]]] = {
    "rp2": {"in": _RP2, "io": _RP2, "out": _RP2, "pwm": _RP2},
    "esp32": {"in": _ESP32_IN, "io": _ESP32_OUT, "out": _ESP32_OUT, "pwm": _ESP32_OUT},
    "unix": {
        "in": (*_ESP32_IN, "LED"),
        "io": (*_ESP32_OUT, "LED"),
        "out": (*_ESP32_OUT, "LED"),
        "pwm": (*_ESP32_OUT, "LED"),
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    """A configuration parameter of a peripheral (a field of its `sensors` item)."""

    key: str
    kind: Literal["int", "bool"]
    default: int | bool
    low: int = 0
    high: int = 1
    unit: str | None = None
    name: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a state payload or of a command: its JSON kind and, for numbers, range."""

    key: str
    kind: ValueKind
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity Home Assistant shows for a peripheral.

    key None: the peripheral's main entity, named after it, unique id `<node>_<id>`; otherwise
    its unique id ends in `_<key>` and its name is translated (`entity.<platform>.<key>`).
    value: the state field the entity shows (sensor and binary_sensor).
    """

    platform: Literal["sensor", "binary_sensor", "light", "switch"]
    key: str | None = None
    value: str | None = None
    unit: str | None = None
    precision: int | None = None
    device_class: str | None = None
    state_class: str | None = None
    name: str = ""


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

    def param(self, key: str) -> Param:
        """The parameter called key."""
        return next(param for param in self.params if param.key == key)

    @property
    def defaults(self) -> dict[str, int | bool]:
        """Every parameter's default."""
        return {param.key: param.default for param in self.params}


_ON: Final = Field("on", "bool")


def _measurement(key: str, unit: str, precision: int) -> Entity:
    """A sensor of a measured value whose key is also its device class, with statistics."""
    return Entity(
        "sensor",
        key=key,
        value=key,
        unit=unit,
        precision=precision,
        device_class=key,
        state_class="measurement",
        name=f"{{sensor}} {key}",
    )


TYPES: Final[dict[str, PeripheralType]] = {
    peripheral.key: peripheral
    for peripheral in (
        PeripheralType(
            key="dht22",
            name="DHT22 temperature and humidity",
            wiring="Data to the pin with a 10 kΩ pull-up to 3.3 V; VCC to 3.3 V, GND to GND.",
            role="io",
            params=(
                Param(
                    "interval",
                    "int",
                    30,
                    2,
                    86400,
                    "s",
                    name="Read interval",
                    description="Seconds between readings, 2-86400.",
                ),
            ),
            state=(
                Field("temperature", "number", -40, 125),
                Field("humidity", "number", 0, 100),
            ),
            state_error=True,
            entities=(
                _measurement("temperature", "°C", precision=1),
                _measurement("humidity", "%", precision=1),
            ),
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
            params=(
                Param(
                    "freq",
                    "int",
                    1000,
                    100,
                    40000,
                    "Hz",
                    name="PWM frequency",
                    description="Hz, 100-40000.",
                ),
            ),
            state=(_ON, Field("brightness", "int", 0, 255)),
            entities=(Entity("light"),),
            set_fields=(
                _ON,
                Field("brightness", "int", 0, 255),
                Field("transition", "number", 0, 60),
            ),
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
                Param(
                    "inverted",
                    "bool",
                    False,
                    name="Inverted",
                    description="On drives the pin low instead of high.",
                ),
            ),
            state=(_ON,),
            entities=(Entity("switch"),),
            set_fields=(_ON,),
        ),
    )
}

# Configuration limits (docs/protocol.md, "Configuration limits").
NAME_MAX: Final = 32
MAX_PERIPHERALS: Final = 16
TELEMETRY_INTERVAL: Final = (5, 86400)


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
    if pin in pins(platform, "in"):
        return f"{pin} is input-only, a {peripheral_type} needs an output"
    return f"{pin} is not a usable pin on {platform}"
