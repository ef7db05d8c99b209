"""Config flow (MQTT discovery, manual, reconfigure) and options flow (the node's peripherals)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import probatio
from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers.selector import (
    AreaSelector,
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    Selector,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from homeassistant.helpers.translation import async_get_translations

from . import catalogue, const, protocol
from .client import CommandError, NodeOffline
from .const import (
    CONF_ANNOUNCE,
    CONF_AREA,
    CONF_LOG_LEVEL,
    CONF_NAME,
    CONF_NODE_ID,
    CONF_PERIPHERALS,
    CONF_PLATFORM,
    CONF_TELEMETRY_INTERVAL,
    CONF_VERSION,
    DEFAULT_LOG_LEVEL,
    DEFAULT_TELEMETRY_INTERVAL,
    DOMAIN,
)
from .fleet import async_get_profiles, next_version
from .keys import async_flash_command, async_get_fleet_key
from .profiles import CONF_OVERRIDES, CONF_PROFILE, PROFILE_OPTIONS, ProfileError
from .protocol import Announce, ProtocolError

CONF_TYPE = "type"
CONF_NEW_PROFILE = "new_profile"
# The profile step's choices besides the profiles themselves (translated selector options).
OWN_CONFIGURATION = "own"
NEW_PROFILE = "new"
CONF_PIN = "pin"
CONF_PERIPHERAL = "peripheral"
CONF_VALUE = "value"
CONF_FILTERS = "filters"
# The form fields of a device on a bus (an I2C bus's pins and frequency, its address; a
# 1-Wire probe's ROM code).
CONF_SDA = "sda"
CONF_SCL = "scl"
CONF_I2C_FREQ = "i2c_freq"
CONF_ADDRESS = "address"
CONF_ROM = "rom"
# The I2C pins a new bus is offered first, per platform.
I2C_DEFAULT_PINS: Final = {"rp2": (4, 5), "esp32": (21, 22), "unix": (21, 22)}
# What a configuration error about a bus field (protocol.validate_config) means in the form.
_BUS_ERRORS: Final = (
    ("used twice on", "in_use"),
    ("used twice", "pin_in_use"),
    ("input-only", "pin_input_only"),
    ("third I2C bus", "too_many_buses"),
    ("already runs", "i2c_controller_in_use"),
    ("not one of", "invalid_address"),
    ("ROM code", "invalid_rom"),
    ("SDA", "i2c_pins"),
    ("SCL", "i2c_pins"),
)


def default_options(name: str) -> dict[str, Any]:
    """The configuration of a new node: no peripherals, never sent (version 0)."""
    return {
        CONF_VERSION: 0,
        CONF_NAME: name[: catalogue.NAME_MAX],
        CONF_TELEMETRY_INTERVAL: DEFAULT_TELEMETRY_INTERVAL,
        CONF_LOG_LEVEL: DEFAULT_LOG_LEVEL,
        CONF_PERIPHERALS: [],
    }


def next_options(entry: ConfigEntry[Any], **changes: Any) -> dict[str, Any]:
    """The entry's options with changes and a version above every version seen so far."""
    return {**default_options(entry.title), **entry.options, **changes} | {
        CONF_VERSION: next_version(entry)
    }


def _select(options: list[str] | list[SelectOptionDict], key: str | None = None) -> SelectSelector:
    config = SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
    if key is not None:
        config["translation_key"] = key
    return SelectSelector(config)


def _chosen_area(hass: HomeAssistant, user_input: dict[str, Any]) -> dict[str, str]:
    """The entry data naming the area the user chose, if any (it may be gone by now)."""
    area_id = user_input.get(CONF_AREA)
    area = ar.async_get(hass).async_get_area(area_id) if area_id else None
    return {CONF_AREA: area.name} if area else {}


def _whole(error: str, low: int, high: int) -> Callable[[Any], int]:
    """A validator: a whole number in low..high, else probatio.Invalid(error)."""

    def validate(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise probatio.Invalid(error)
        if not low <= value <= high:
            raise probatio.Invalid(error)
        return int(value)

    return validate


def _errors(schema: probatio.Schema, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Data validated by schema, or the translation keys of its errors per field."""
    try:
        return schema(data), {}
    except probatio.MultipleInvalid as err:
        return data, {
            str(error.path[0]) if error.path else "base": error.error_message
            for error in err.errors
        }


async def _profile_field(hass: HomeAssistant) -> dict[Any, Any]:
    """The optional profile choice of a node being added (none while there are no profiles)."""
    profiles = (await async_get_profiles(hass)).profiles
    if not profiles:
        return {}
    choices = [SelectOptionDict(value=p.profile_id, label=p.name) for p in profiles.values()]
    return {probatio.Optional(CONF_PROFILE): _select(choices)}


async def _new_options(
    hass: HomeAssistant, user_input: dict[str, Any], name: str, platform: str, cfg: int
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The options of a node being added: its profile's configuration if the user chose one.

    Returns options, form errors and their placeholders.
    """
    if not (profile_id := user_input.get(CONF_PROFILE)):
        return default_options(name), {}, {}
    manager = await async_get_profiles(hass)
    try:
        return (
            manager.new_node_options(profile_id, name[: catalogue.NAME_MAX], platform, cfg),
            {},
            {},
        )
    except ProfileError as err:
        return {}, {CONF_PROFILE: "profile_unsuitable"}, {"errors": str(err)}


class MicroHomeConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a node: discovered from its MQTT announce, or by id."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with no node."""
        self._announce: Announce | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry[Any]) -> MicroHomeOptionsFlow:
        """The options flow that edits the node's configuration."""
        return MicroHomeOptionsFlow()

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A node's retained announce on `microhome/<id>/announce`."""
        if not discovery_info.payload:
            return self.async_abort(reason="empty_announce")
        try:
            node_id = protocol.node_id_from_topic(discovery_info.topic)
            announce = protocol.parse_announce(discovery_info.payload, node_id)
        except ProtocolError as err:
            return self.async_abort(
                reason="invalid_announce", description_placeholders={"error": str(err)}
            )
        await self.async_set_unique_id(announce.id)
        self._abort_if_unique_id_configured(
            updates={CONF_ANNOUNCE: announce.as_dict(), CONF_PLATFORM: announce.platform},
            reload_on_update=False,
        )
        self._announce = announce
        # The panel's Nodes page lists discovered nodes with these.
        self.context["title_placeholders"] = {
            "name": announce.name or announce.id,
            "board": announce.board,
            "platform": announce.platform,
            "firmware": announce.fw,
        }
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding a discovered node."""
        announce = self._announce
        assert announce is not None
        name = announce.name or announce.id
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            options, errors, found = await _new_options(
                self.hass, user_input, name, announce.platform, announce.cfg
            )
            placeholders |= found
            if not errors:
                return self.async_create_entry(
                    title=name,
                    data={
                        CONF_NODE_ID: announce.id,
                        CONF_PLATFORM: announce.platform,
                        CONF_ANNOUNCE: announce.as_dict(),
                    }
                    | _chosen_area(self.hass, user_input),
                    options=options,
                )
        schema = probatio.Schema(
            {probatio.Optional(CONF_AREA): AreaSelector(), **await _profile_field(self.hass)}
        )
        return self.async_show_form(
            step_id="discovery_confirm",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders
            | {
                "name": name,
                "node_id": announce.id,
                "platform": announce.platform,
                "board": announce.board,
                "firmware": announce.fw,
            },
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Add a node by id, for a node whose announce is not on the broker."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            return self.async_abort(reason="mqtt_not_connected")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            node_id = user_input[CONF_NODE_ID].strip()
            if not protocol.is_node_id(node_id):
                errors[CONF_NODE_ID] = "invalid_node_id"
            else:
                await self.async_set_unique_id(node_id)
                self._abort_if_unique_id_configured()
                options, errors, found = await _new_options(
                    self.hass, user_input, node_id, user_input[CONF_PLATFORM], 0
                )
                placeholders |= found
            if not errors:
                return self.async_create_entry(
                    title=node_id,
                    data={
                        CONF_NODE_ID: node_id,
                        CONF_PLATFORM: user_input[CONF_PLATFORM],
                        CONF_ANNOUNCE: None,
                    }
                    | _chosen_area(self.hass, user_input),
                    options=options,
                )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NODE_ID): TextSelector(),
                probatio.Required(CONF_PLATFORM, default="rp2"): _select(
                    list(catalogue.PLATFORMS), "platform"
                ),
                probatio.Optional(CONF_AREA): AreaSelector(),
                **await _profile_field(self.hass),
            }
        )
        _, command = await async_flash_command(self.hass, await async_get_fleet_key(self.hass))
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders | {"flash_command": command},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Rename the node (Home Assistant's device and the node's configuration)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if not 1 <= len(name) <= catalogue.NAME_MAX:
                errors[CONF_NAME] = "invalid_name"
            else:
                return self.async_update_and_abort(
                    entry, title=name, options=next_options(entry, name=name)
                )
        schema = probatio.Schema(
            {probatio.Required(CONF_NAME, default=entry.title): TextSelector()}
        )
        return self.async_show_form(step_id="reconfigure", data_schema=schema, errors=errors)


class MicroHomeOptionsFlow(OptionsFlow):
    """Edit the node's configuration: peripherals and node settings.

    The menu stays open: peripherals are added, edited and removed in a working copy, and the
    whole configuration is saved and pushed once, when the user finishes.
    """

    def __init__(self) -> None:
        """Start with no peripheral chosen and nothing changed."""
        self._type = ""
        self._peripheral_id: str | None = None
        self._value = ""  # the value whose filters are being set
        self._changes: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        # 1-Wire probes being added: their pin and settings, the new ROM codes the node found
        self._probe_pin: catalogue.Pin = 0
        self._probe_settings: dict[str, Any] = {}
        self._found: list[str] = []

    @property
    def _platform(self) -> str:
        announce = self.config_entry.data.get(CONF_ANNOUNCE) or {}
        return str(announce.get("platform") or self.config_entry.data.get(CONF_PLATFORM, "rp2"))

    @property
    def _options(self) -> dict[str, Any]:
        return {**default_options(self.config_entry.title), **self.config_entry.options}

    @property
    def _peripherals(self) -> list[dict[str, Any]]:
        """The peripherals as edited so far."""
        return list(self._changes.get(CONF_PERIPHERALS, self._options[CONF_PERIPHERALS]))

    async def _translated(self) -> dict[str, str]:
        """The translated names of types and boards and the wiring hints, by selector key."""
        if not self._names:
            prefix = f"component.{DOMAIN}.selector."
            texts = await async_get_translations(
                self.hass, self.hass.config.language, "selector", {DOMAIN}
            )
            self._names = {
                key.removeprefix(prefix).replace(".options.", "."): text
                for key, text in texts.items()
                if key.startswith(prefix)
            }
        return self._names

    async def _type_name(self, peripheral_type: str) -> str:
        return (await self._translated()).get(f"peripheral_type.{peripheral_type}", peripheral_type)

    async def _choose_peripheral(self, step_id: str) -> ConfigFlowResult:
        """The form of step_id: one of the peripherals, by name and translated type."""
        choices = _select(
            [
                SelectOptionDict(
                    value=p["id"],
                    label=f"{p.get('name') or p['id']} ({await self._type_name(p['type'])})",
                )
                for p in self._peripherals
            ]
        )
        schema = probatio.Schema({probatio.Required(CONF_PERIPHERAL): choices})
        return self.async_show_form(step_id=step_id, data_schema=schema)

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The menu; it comes back after every step until the user finishes."""
        menu = ["add_peripheral", "node_settings", "profile", "finish"]
        if self._peripherals:
            menu[1:1] = ["edit_peripheral", "remove_peripheral"]
        if self._filterable():
            menu.insert(menu.index("node_settings"), "choose_filter")
        return self.async_show_menu(step_id="init", menu_options=menu)

    async def async_step_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Follow a profile (or a new one made of this configuration), or have an own one."""
        manager = await async_get_profiles(self.hass)
        entry = self.config_entry
        errors: dict[str, str] = {}
        placeholders = {"errors": "", "profile": "-"}
        if (current := entry.options.get(CONF_PROFILE)) in manager.profiles:
            placeholders["profile"] = manager.profiles[current].name
        if user_input is not None:
            choice = user_input[CONF_PROFILE]
            try:
                if choice == OWN_CONFIGURATION:
                    options = {k: v for k, v in entry.options.items() if k not in PROFILE_OPTIONS}
                    return self.async_create_entry(data=options)
                if choice == NEW_PROFILE:
                    name = str(user_input.get(CONF_NEW_PROFILE, "")).strip()
                    if not name:
                        raise ProfileError("name: 1-64 characters")
                    choice = (await manager.async_create(name, entry)).profile_id
                overrides = entry.options.get(CONF_OVERRIDES) if current == choice else None
                options = manager.options_following(
                    entry, manager.get(choice), dict(overrides or {})
                )
            except ProfileError as err:
                errors["base"] = "profile_unsuitable"
                placeholders["errors"] = str(err)
            except ServiceValidationError as err:
                errors["base"] = "profile_unsuitable"
                placeholders["errors"] = str(err)
            else:
                return self.async_create_entry(data=options)
        choices = [
            SelectOptionDict(value=OWN_CONFIGURATION, label=OWN_CONFIGURATION),
            *(
                SelectOptionDict(value=p.profile_id, label=p.name)
                for p in manager.profiles.values()
            ),
            SelectOptionDict(value=NEW_PROFILE, label=NEW_PROFILE),
        ]
        schema = probatio.Schema(
            {
                probatio.Required(
                    CONF_PROFILE, default=current or OWN_CONFIGURATION
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=choices,
                        mode=SelectSelectorMode.LIST,
                        translation_key="profile_choice",
                    )
                ),
                probatio.Optional(CONF_NEW_PROFILE): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="profile",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_add_peripheral(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the type of a new peripheral."""
        errors: dict[str, str] = {}
        peripherals = self._peripherals
        if len(peripherals) >= catalogue.MAX_PERIPHERALS:
            errors["base"] = "too_many_peripherals"
        elif user_input is not None:
            peripheral_type = user_input[CONF_TYPE]
            if catalogue.TYPES[peripheral_type].single and any(
                p["type"] == peripheral_type for p in peripherals
            ):
                errors[CONF_TYPE] = f"{peripheral_type}_exists"
            else:
                self._type = peripheral_type
                self._peripheral_id = None
                if catalogue.TYPES[peripheral_type].bus == "onewire":
                    return await self.async_step_onewire()
                return await self.async_step_peripheral()
        schema = probatio.Schema(
            {probatio.Required(CONF_TYPE): _select(self._offered_types(), "peripheral_type")}
        )
        return self.async_show_form(step_id="add_peripheral", data_schema=schema, errors=errors)

    def _offered_types(self) -> list[str]:
        """The types the node's firmware runs (its announce's caps), all before it announced."""
        announce = self.config_entry.data.get(CONF_ANNOUNCE) or {}
        caps = announce.get("caps")
        if not isinstance(caps, list):
            return list(catalogue.TYPES)
        return [key for key in catalogue.TYPES if key in caps]

    async def async_step_edit_peripheral(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the peripheral to edit."""
        if user_input is not None:
            peripheral = next(
                p for p in self._peripherals if p["id"] == user_input[CONF_PERIPHERAL]
            )
            self._type = peripheral["type"]
            self._peripheral_id = peripheral["id"]
            return await self.async_step_peripheral()
        return await self._choose_peripheral("edit_peripheral")

    async def async_step_remove_peripheral(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the peripheral to remove; its entities go with it."""
        if user_input is not None:
            removed = user_input[CONF_PERIPHERAL]
            self._changes[CONF_PERIPHERALS] = [p for p in self._peripherals if p["id"] != removed]
            return await self.async_step_init()
        return await self._choose_peripheral("remove_peripheral")

    async def async_step_peripheral(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name, pin and parameters of a new or edited peripheral."""
        kind = catalogue.TYPES[self._type]
        peripherals = self._peripherals
        others = [p for p in peripherals if p["id"] != self._peripheral_id]
        current = next((p for p in peripherals if p["id"] == self._peripheral_id), None)
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _errors(self._peripheral_validator(others), user_input)
            for first, second in () if errors else kind.distinct:
                if data[first] == data[second]:
                    errors[second] = "same_point"
            if not errors:
                peripheral: dict[str, Any] = {
                    "id": self._peripheral_id
                    or protocol.sensor_id_for(data[CONF_NAME], {p["id"] for p in others}),
                    "type": kind.key,
                    "name": data[CONF_NAME],
                }
                peripheral |= _attachment(kind, data)
                peripheral |= {param.key: data[param.key] for param in kind.params}
                if current is not None and current.get(CONF_FILTERS):
                    peripheral[CONF_FILTERS] = current[CONF_FILTERS]
                others = _with_bus_freq(others, peripheral)
                errors = self._bus_errors(others, peripheral) if kind.bus else {}
            if not errors:
                place = len(others) if current is None else peripherals.index(current)
                self._changes[CONF_PERIPHERALS] = [*others[:place], peripheral, *others[place:]]
                return await self.async_step_init()
        taken = {pin for p in others for pin in protocol.pins_held(p)}
        fields: dict[Any, Any] = {probatio.Required(CONF_NAME): TextSelector()}
        suggested: dict[str, Any] = dict(kind.defaults)
        if kind.bus == "i2c":
            fields |= self._i2c_fields(kind, others)
        else:
            fields[probatio.Required(CONF_PIN)] = _pin_selector(
                pin for pin in catalogue.pins(self._platform, kind.role) if pin not in taken
            )
            if kind.bus == "onewire":
                fields[probatio.Required(CONF_ROM)] = TextSelector()
        for param in kind.params:
            fields[probatio.Required(param.key)] = _param_selector(param)
        if current is not None:
            suggested |= {
                k: v for k, v in current.items() if k in (CONF_NAME, CONF_ROM, *suggested)
            }
            if "pin" in current:
                suggested[CONF_PIN] = protocol.format_pin(current["pin"])
        if kind.bus == "i2c":
            suggested |= self._i2c_suggested(kind, others, current)
        suggested |= user_input or {}
        names = await self._translated()
        return self.async_show_form(
            step_id="peripheral",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders={
                "type": names.get(f"peripheral_type.{kind.key}", kind.name),
                "board": names.get(f"platform.{self._platform}", self._platform),
                "wiring": names.get(f"peripheral_wiring.{kind.key}", kind.wiring),
            },
        )

    def _peripheral_validator(self, others: list[dict[str, Any]]) -> probatio.Schema:
        platform = self._platform
        kind = catalogue.TYPES[self._type]
        names = {str(p.get("name") or p["id"]).casefold() for p in others}
        taken = {pin for p in others for pin in protocol.pins_held(p)}

        def name(value: Any) -> str:
            text = str(value).strip()
            if not 1 <= len(text) <= catalogue.NAME_MAX:
                raise probatio.Invalid("invalid_name")
            if text.casefold() in names:
                raise probatio.Invalid("name_in_use")
            return text

        def pin(value: Any) -> catalogue.Pin:
            try:
                parsed = protocol.parse_pin(str(value))
            except ProtocolError as err:
                raise probatio.Invalid("invalid_pin") from err
            if parsed not in catalogue.pins(platform, kind.role):
                input_only = kind.role != "adc" and parsed in catalogue.pins(platform, "in")
                raise probatio.Invalid("pin_input_only" if input_only else "invalid_pin")
            if parsed in taken:
                raise probatio.Invalid("pin_in_use")
            return parsed

        fields: dict[Any, Any] = {probatio.Required(CONF_NAME): name}
        if kind.bus == "i2c":
            fields |= {
                probatio.Required(CONF_SDA): _typed_pin,
                probatio.Required(CONF_SCL): _typed_pin,
                probatio.Required(CONF_I2C_FREQ): _whole("i2c_freq_range", *catalogue.I2C_FREQ),
                probatio.Required(CONF_ADDRESS): probatio.All(
                    probatio.Coerce(int), probatio.In(kind.addresses, msg="invalid_address")
                ),
            }
        else:
            fields[probatio.Required(CONF_PIN)] = _typed_pin if kind.bus else pin
        if kind.bus == "onewire":
            fields[probatio.Required(CONF_ROM)] = _rom
        for param in kind.params:
            fields[probatio.Required(param.key)] = _param_validator(param)
        return probatio.Schema(fields)

    def _bus_errors(
        self, others: list[dict[str, Any]], peripheral: dict[str, Any]
    ) -> dict[str, str]:
        """The form errors of a device on a bus, from the node's own rules (its pins, its
        bus's frequency and controller, its address or ROM code) among the others."""
        options = self._options | self._changes | {CONF_PERIPHERALS: [*others, peripheral]}
        problems = protocol.validate_config(protocol.config_body(options, 1), self._platform)
        prefix = f"sensors[{len(others)}]."
        errors: dict[str, str] = {}
        for problem in problems:
            if not problem.startswith(prefix):
                continue
            path, _, reason = problem.removeprefix(prefix).partition(": ")
            field = {"bus": "base", "bus.freq": CONF_I2C_FREQ}.get(path, path.split(".")[-1])
            key = next((key for text, key in _BUS_ERRORS if text in reason), "invalid_pin")
            errors.setdefault(field, f"{field}_{key}" if key == "in_use" else key)
        return errors

    def _i2c_fields(
        self, kind: catalogue.PeripheralType, others: list[dict[str, Any]]
    ) -> dict[Any, Any]:
        """The bus fields of an I2C device: pins not held by other peripherals (but by its bus)."""
        held = {
            pin
            for p in others
            if not isinstance(p.get("bus"), dict)
            for pin in protocol.pins_held(p)
        }
        platform = self._platform
        return {
            probatio.Required(CONF_SDA): _pin_selector(
                pin for pin in catalogue.i2c_pins(platform, "sda") if pin not in held
            ),
            probatio.Required(CONF_SCL): _pin_selector(
                pin for pin in catalogue.i2c_pins(platform, "scl") if pin not in held
            ),
            probatio.Required(CONF_I2C_FREQ): NumberSelector(
                NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1, unit_of_measurement="Hz")
            ),
            probatio.Required(CONF_ADDRESS): _select(
                [SelectOptionDict(value=str(a), label=f"0x{a:02x}") for a in kind.addresses]
            ),
        }

    def _i2c_suggested(
        self,
        kind: catalogue.PeripheralType,
        others: list[dict[str, Any]],
        current: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The bus of the device edited, else the node's first I2C bus, else the board's usual
        pins; its address, else the chip's first one free on that bus."""
        buses = [p["bus"] for p in others if isinstance(p.get("bus"), dict)]
        if current is not None and isinstance(current.get("bus"), dict):
            buses.insert(0, current["bus"])
        sda, scl = I2C_DEFAULT_PINS.get(self._platform, (4, 5))
        bus: dict[str, Any] = buses[0] if buses else {"sda": sda, "scl": scl}
        on_bus = {
            p.get("address")
            for p in others
            if p.get("bus", {}).get("sda") == bus.get("sda")
            and p.get("bus", {}).get("scl") == bus.get("scl")
        }
        address = (current or {}).get("address") or next(
            (a for a in kind.addresses if a not in on_bus), kind.addresses[0]
        )
        return {
            CONF_SDA: str(bus.get("sda")),
            CONF_SCL: str(bus.get("scl")),
            CONF_I2C_FREQ: bus.get("freq", catalogue.I2C_FREQ_DEFAULT),
            CONF_ADDRESS: str(address),
        }

    async def async_step_onewire(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The pin of the 1-Wire bus of new DS18B20 probes; the node scans it."""
        kind = catalogue.TYPES[self._type]
        peripherals = self._peripherals
        errors: dict[str, str] = {}
        if user_input is not None:
            validator: dict[Any, Callable[[Any], Any]] = {probatio.Required(CONF_PIN): _typed_pin}
            validator |= {probatio.Required(p.key): _param_validator(p) for p in kind.params}
            data, errors = _errors(probatio.Schema(validator), user_input)
            if not errors:
                probe = {"id": "scan", "type": kind.key, "pin": data[CONF_PIN], "rom": "0" * 16}
                errors = self._bus_errors(peripherals, probe)
            if not errors:
                self._probe_settings = {param.key: data[param.key] for param in kind.params}
                self._probe_pin = data[CONF_PIN]
                errors = await self._scan(data[CONF_PIN], peripherals)
            if not errors:
                return await self.async_step_probes()
        held = {pin for p in peripherals if p["type"] != kind.key for pin in protocol.pins_held(p)}
        fields: dict[Any, Any] = {
            probatio.Required(CONF_PIN): _pin_selector(
                pin for pin in catalogue.pins(self._platform, kind.role) if pin not in held
            )
        }
        for param in kind.params:
            fields[probatio.Required(param.key)] = _param_selector(param)
        buses = [p["pin"] for p in peripherals if p["type"] == kind.key and "pin" in p]
        suggested: dict[str, Any] = dict(kind.defaults)
        if buses:
            suggested[CONF_PIN] = protocol.format_pin(buses[0])
        names = await self._translated()
        return self.async_show_form(
            step_id="onewire",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(fields), suggested | (user_input or {})
            ),
            errors=errors,
            description_placeholders={
                "board": names.get(f"platform.{self._platform}", self._platform),
                "wiring": names.get(f"peripheral_wiring.{kind.key}", kind.wiring),
            },
        )

    async def _scan(self, pin: catalogue.Pin, peripherals: list[dict[str, Any]]) -> dict[str, str]:
        """Ask the node for the probes on pin; the new ones are kept, or the form's error."""
        node = getattr(self.config_entry, "runtime_data", None)
        if node is None:
            return {"base": "node_offline"}
        try:
            reply = await node.command("scan", const.REPLY_TIMEOUT, bus="onewire", pin=pin)
        except NodeOffline:
            return {"base": "node_offline"}
        except CommandError:
            return {"base": "scan_failed"}
        known = {p.get("rom") for p in peripherals if p.get("pin") == pin}
        self._found = [rom for rom in reply.found if isinstance(rom, str) and rom not in known]
        return {} if self._found else {"base": "no_probes"}

    async def async_step_probes(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name the probes the node found (a probe left without a name is not added)."""
        peripherals = self._peripherals
        names = {str(p.get("name") or p["id"]).casefold() for p in peripherals}
        errors: dict[str, str] = {}
        if user_input is not None:
            chosen: dict[str, str] = {}
            for rom in self._found:
                name = str(user_input.get(rom) or "").strip()
                if not name:
                    continue
                if len(name) > catalogue.NAME_MAX:
                    errors[rom] = "invalid_name"
                elif name.casefold() in names or name.casefold() in map(
                    str.casefold, chosen.values()
                ):
                    errors[rom] = "name_in_use"
                chosen[rom] = name
            if not chosen and not errors:
                errors["base"] = "name_a_probe"
            if len(peripherals) + len(chosen) > catalogue.MAX_PERIPHERALS:
                errors["base"] = "too_many_peripherals"
            if not errors:
                for rom, name in chosen.items():
                    taken = {p["id"] for p in peripherals}
                    peripherals.append(
                        {
                            "id": protocol.sensor_id_for(name, taken),
                            "type": self._type,
                            "name": name,
                            "pin": self._probe_pin,
                            "rom": rom,
                        }
                        | self._probe_settings
                    )
                self._changes[CONF_PERIPHERALS] = peripherals
                return await self.async_step_init()
        free = (f"T{n}" for n in range(1, 100) if f"t{n}" not in names)
        suggested = {rom: next(free) for rom in self._found} | (user_input or {})
        schema = probatio.Schema({probatio.Optional(rom): TextSelector() for rom in self._found})
        return self.async_show_form(
            step_id="probes",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders={
                "pin": protocol.format_pin(self._probe_pin),
                "count": str(len(self._found)),
            },
        )

    def _filterable(self) -> list[tuple[dict[str, Any], str]]:
        """Every (peripheral, value) filters may apply to."""
        return [
            (peripheral, value)
            for peripheral in self._peripherals
            if (kind := catalogue.TYPES.get(peripheral["type"])) is not None
            for value in kind.filterable
        ]

    async def async_step_choose_filter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the value of a peripheral whose filters to set."""
        if user_input is not None:
            self._peripheral_id, _, self._value = user_input[CONF_VALUE].partition(".")
            return await self.async_step_filters()
        choices = _select(
            [
                SelectOptionDict(
                    value=f"{peripheral['id']}.{value}",
                    label=f"{peripheral.get('name') or peripheral['id']}: {value}",
                )
                for peripheral, value in self._filterable()
            ]
        )
        schema = probatio.Schema({probatio.Required(CONF_VALUE): choices})
        return self.async_show_form(step_id="choose_filter", data_schema=schema)

    async def async_step_filters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The filters the node applies to one value before publishing it."""
        peripherals = self._peripherals
        peripheral = next(p for p in peripherals if p["id"] == self._peripheral_id)
        filters: dict[str, Any] = dict(peripheral.get(CONF_FILTERS) or {})
        errors: dict[str, str] = {}
        if user_input is not None:
            schema = probatio.Schema(
                {probatio.Required(p.key): _param_validator(p) for p in catalogue.FILTER_PARAMS}
            )
            data, errors = _errors(schema, user_input)
            for first, second in () if errors else catalogue.FILTER_DISTINCT:
                if data[first] == data[second]:
                    errors[second] = "same_point"
            if not errors:
                # Only the settings that differ from their defaults are kept; none: no filter.
                settings = {
                    p.key: data[p.key] for p in catalogue.FILTER_PARAMS if data[p.key] != p.default
                }
                filters.pop(self._value, None)
                if settings:
                    filters[self._value] = settings
                changed = {k: v for k, v in peripheral.items() if k != CONF_FILTERS}
                if filters:
                    changed[CONF_FILTERS] = filters
                peripherals[peripherals.index(peripheral)] = changed
                self._changes[CONF_PERIPHERALS] = peripherals
                return await self.async_step_init()
        fields = {probatio.Required(p.key): _param_selector(p) for p in catalogue.FILTER_PARAMS}
        suggested = {p.key: p.default for p in catalogue.FILTER_PARAMS}
        suggested |= filters.get(self._value, {}) | (user_input or {})
        return self.async_show_form(
            step_id="filters",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders={
                "peripheral": str(peripheral.get(CONF_NAME) or peripheral["id"]),
                "value": self._value,
            },
        )

    async def async_step_node_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Telemetry interval and log level of the node."""
        validator = probatio.Schema(
            {
                probatio.Required(CONF_TELEMETRY_INTERVAL): _whole(
                    "telemetry_interval_range", *catalogue.TELEMETRY_INTERVAL
                ),
                probatio.Required(CONF_LOG_LEVEL): probatio.In(LOG_LEVEL_OF_NAME),
            }
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _errors(validator, user_input)
            if not errors:
                self._changes[CONF_TELEMETRY_INTERVAL] = data[CONF_TELEMETRY_INTERVAL]
                self._changes[CONF_LOG_LEVEL] = LOG_LEVEL_OF_NAME[data[CONF_LOG_LEVEL]]
                return await self.async_step_init()
        schema = probatio.Schema(
            {
                probatio.Required(CONF_TELEMETRY_INTERVAL): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
                ),
                probatio.Required(CONF_LOG_LEVEL): _select(list(LOG_LEVEL_OF_NAME), "log_level"),
            }
        )
        options = self._options | self._changes
        suggested = {
            CONF_TELEMETRY_INTERVAL: options[CONF_TELEMETRY_INTERVAL],
            CONF_LOG_LEVEL: protocol.LOG_LEVEL_NAMES.get(options[CONF_LOG_LEVEL], "info"),
        } | (user_input or {})
        return self.async_show_form(
            step_id="node_settings",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Store the new configuration; the entry's update listener sends it to the node once."""
        changes = {k: v for k, v in self._changes.items() if self._options.get(k) != v}
        if not changes:
            return self.async_create_entry(data=dict(self.config_entry.options))
        options = next_options(self.config_entry, **changes)
        # Edited on its own, the node stops following its profile and keeps this configuration.
        options = {k: v for k, v in options.items() if k not in PROFILE_OPTIONS}
        problems = protocol.validate_config(protocol.config_body(options, 1), self._platform)
        if problems:
            return self.async_abort(
                reason="invalid_config", description_placeholders={"errors": "; ".join(problems)}
            )
        return self.async_create_entry(data=options)


# The options of the log level selector (lower-case keys) and the node's level each stands for.
LOG_LEVEL_OF_NAME: Final = {name: level for level, name in protocol.LOG_LEVEL_NAMES.items()}


def _param_validator(param: catalogue.Param) -> Callable[[Any], Any]:
    """The form validator of one parameter; its error key is `<key>_range`."""
    if param.kind == "bool":
        return bool
    if param.kind == "choice":
        return probatio.In(param.choices, msg="invalid_choice")
    if param.kind == "int":
        return _whole(f"{param.key}_range", int(param.low), int(param.high))

    def check(value: Any) -> Any:
        if protocol.param_error(param, value) is not None:
            raise probatio.Invalid(f"{param.key}_range")
        return float(value) if param.kind == "number" else value

    return check


def _param_selector(param: catalogue.Param) -> Selector[Any]:
    """The form field of one peripheral parameter."""
    if param.kind == "bool":
        return BooleanSelector()
    if param.kind == "choice":
        return _select(list(param.choices), f"param_{param.key}")
    if param.kind == "str":
        return TextSelector()
    # No min and max: out of range, the field shows the parameter's own error.
    step: float | Literal["any"] = 1 if param.kind == "int" else "any"
    config = NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=step)
    if param.unit is not None:
        config["unit_of_measurement"] = param.unit
    return NumberSelector(config)


def _pin_selector(pins: Iterable[catalogue.Pin]) -> SelectSelector:
    """A pin field: the pins offered, or any typed."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[protocol.format_pin(pin) for pin in pins],
            custom_value=True,
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _rom(value: Any) -> str:
    """A 1-Wire ROM code as typed (spaces and case forgiven)."""
    rom = str(value).replace(" ", "").replace(":", "").lower()
    if protocol.ROM_RE.fullmatch(rom) is None:
        raise probatio.Invalid("invalid_rom")
    return rom


def _attachment(kind: catalogue.PeripheralType, data: dict[str, Any]) -> dict[str, Any]:
    """The stored attachment of a peripheral from its form: its pin, or its bus and address,
    or its pin and ROM code."""
    if kind.bus == "i2c":
        bus = {"sda": data[CONF_SDA], "scl": data[CONF_SCL], "freq": data[CONF_I2C_FREQ]}
        return {"bus": bus, "address": data[CONF_ADDRESS]}
    if kind.bus == "onewire":
        return {"pin": data[CONF_PIN], "rom": data[CONF_ROM]}
    return {"pin": data[CONF_PIN]}


def _with_bus_freq(
    others: list[dict[str, Any]], peripheral: dict[str, Any]
) -> list[dict[str, Any]]:
    """The other peripherals, the devices on peripheral's I2C bus at its frequency (one
    frequency per bus: the last one set)."""
    bus = peripheral.get("bus")
    if not isinstance(bus, dict):
        return others
    same = (bus["sda"], bus["scl"])
    return [
        p | {"bus": p["bus"] | {"freq": bus["freq"]}}
        if isinstance(p.get("bus"), dict) and (p["bus"].get("sda"), p["bus"].get("scl")) == same
        else p
        for p in others
    ]


def _typed_pin(value: Any) -> catalogue.Pin:
    """A pin as typed or chosen (its use is checked with the whole configuration)."""
    try:
        return protocol.parse_pin(str(value))
    except ProtocolError as err:
        raise probatio.Invalid("invalid_pin") from err
