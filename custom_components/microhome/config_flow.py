"""Config flow (MQTT discovery, manual, reconfigure) and options flow (the node's sensors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import probatio
from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers.selector import (
    AreaSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from . import protocol
from .const import (
    CONF_ANNOUNCE,
    CONF_AREA,
    CONF_LOG_LEVEL,
    CONF_NAME,
    CONF_NODE_ID,
    CONF_PLATFORM,
    CONF_SENSORS,
    CONF_TELEMETRY_INTERVAL,
    CONF_VERSION,
    DEFAULT_LOG_LEVEL,
    DEFAULT_TELEMETRY_INTERVAL,
    DOMAIN,
    LOG_LEVEL_CHOICES,
)
from .keys import async_flash_command, async_get_fleet_key
from .protocol import Announce, ProtocolError

CONF_TYPE = "type"
CONF_PIN = "pin"
CONF_SENSOR = "sensor"


def default_options(name: str) -> dict[str, Any]:
    """The configuration of a new node: no sensors, never sent (version 0)."""
    return {
        CONF_VERSION: 0,
        CONF_NAME: name[: protocol.NAME_MAX],
        CONF_TELEMETRY_INTERVAL: DEFAULT_TELEMETRY_INTERVAL,
        CONF_LOG_LEVEL: DEFAULT_LOG_LEVEL,
        CONF_SENSORS: [],
    }


def next_options(entry: ConfigEntry[Any], **changes: Any) -> dict[str, Any]:
    """The entry's options with changes and a version above every version seen so far."""
    options = {**default_options(entry.title), **entry.options, **changes}
    announced = (entry.data.get(CONF_ANNOUNCE) or {}).get("cfg", 0)
    node_cfg = announced if isinstance(announced, int) else 0
    options[CONF_VERSION] = max(int(entry.options.get(CONF_VERSION, 0)), node_cfg) + 1
    return options


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
        self.context["title_placeholders"] = {"name": announce.name or announce.id}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding a discovered node."""
        announce = self._announce
        assert announce is not None
        if user_input is not None:
            name = announce.name or announce.id
            return self.async_create_entry(
                title=name,
                data={
                    CONF_NODE_ID: announce.id,
                    CONF_PLATFORM: announce.platform,
                    CONF_ANNOUNCE: announce.as_dict(),
                }
                | _chosen_area(self.hass, user_input),
                options=default_options(name),
            )
        return self.async_show_form(
            step_id="discovery_confirm",
            data_schema=probatio.Schema({probatio.Optional(CONF_AREA): AreaSelector()}),
            description_placeholders={
                "name": announce.name or announce.id,
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
        if user_input is not None:
            node_id = user_input[CONF_NODE_ID].strip()
            if not protocol.is_node_id(node_id):
                errors[CONF_NODE_ID] = "invalid_node_id"
            else:
                await self.async_set_unique_id(node_id)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=node_id,
                    data={
                        CONF_NODE_ID: node_id,
                        CONF_PLATFORM: user_input[CONF_PLATFORM],
                        CONF_ANNOUNCE: None,
                    }
                    | _chosen_area(self.hass, user_input),
                    options=default_options(node_id),
                )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NODE_ID): TextSelector(),
                probatio.Required(CONF_PLATFORM, default="rp2"): _select(
                    list(protocol.PLATFORMS), "platform"
                ),
                probatio.Optional(CONF_AREA): AreaSelector(),
            }
        )
        _, command = await async_flash_command(self.hass, await async_get_fleet_key(self.hass))
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"flash_command": command},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Rename the node (Home Assistant's device and the node's configuration)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            if not 1 <= len(name) <= protocol.NAME_MAX:
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
    """Edit the node's configuration: sensors and node settings."""

    def __init__(self) -> None:
        """Start with no sensor chosen."""
        self._sensor_type = ""
        self._sensor_id: str | None = None

    @property
    def _platform(self) -> str:
        announce = self.config_entry.data.get(CONF_ANNOUNCE) or {}
        return str(announce.get("platform") or self.config_entry.data.get(CONF_PLATFORM, "rp2"))

    @property
    def _options(self) -> dict[str, Any]:
        return {**default_options(self.config_entry.title), **self.config_entry.options}

    @property
    def _sensors(self) -> list[dict[str, Any]]:
        return list(self._options[CONF_SENSORS])

    def _sensor_choices(self) -> SelectSelector:
        return _select(
            [
                SelectOptionDict(value=s["id"], label=f"{s.get('name') or s['id']} ({s['type']})")
                for s in self._sensors
            ]
        )

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The menu."""
        menu = ["add_sensor", "node_settings"]
        if self._sensors:
            menu[1:1] = ["edit_sensor", "remove_sensor"]
        return self.async_show_menu(step_id="init", menu_options=menu)

    async def async_step_add_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the type of a new sensor."""
        errors: dict[str, str] = {}
        sensors = self._sensors
        if len(sensors) >= protocol.MAX_SENSORS:
            errors["base"] = "too_many_sensors"
        elif user_input is not None:
            sensor_type = user_input[CONF_TYPE]
            if sensor_type == "status_led" and any(s["type"] == "status_led" for s in sensors):
                errors[CONF_TYPE] = "status_led_exists"
            else:
                self._sensor_type = sensor_type
                self._sensor_id = None
                return await self.async_step_sensor()
        schema = probatio.Schema(
            {probatio.Required(CONF_TYPE): _select(list(protocol.SENSOR_TYPES), "sensor_type")}
        )
        return self.async_show_form(step_id="add_sensor", data_schema=schema, errors=errors)

    async def async_step_edit_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the sensor to edit."""
        if user_input is not None:
            sensor = next(s for s in self._sensors if s["id"] == user_input[CONF_SENSOR])
            self._sensor_type = sensor["type"]
            self._sensor_id = sensor["id"]
            return await self.async_step_sensor()
        schema = probatio.Schema({probatio.Required(CONF_SENSOR): self._sensor_choices()})
        return self.async_show_form(step_id="edit_sensor", data_schema=schema)

    async def async_step_remove_sensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the sensor to remove; its entities go with it."""
        if user_input is not None:
            sensors = [s for s in self._sensors if s["id"] != user_input[CONF_SENSOR]]
            return self._save(sensors=sensors)
        schema = probatio.Schema({probatio.Required(CONF_SENSOR): self._sensor_choices()})
        return self.async_show_form(step_id="remove_sensor", data_schema=schema)

    async def async_step_sensor(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name, pin and settings of a new or edited sensor."""
        sensor_type = self._sensor_type
        others = [s for s in self._sensors if s["id"] != self._sensor_id]
        current = next((s for s in self._sensors if s["id"] == self._sensor_id), None)
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _errors(self._sensor_validator(others), user_input)
            if not errors:
                sensor: dict[str, Any] = {
                    "id": self._sensor_id
                    or protocol.sensor_id_for(data[CONF_NAME], {s["id"] for s in others}),
                    "type": sensor_type,
                    "name": data[CONF_NAME],
                    "pin": data[CONF_PIN],
                }
                for param in protocol.PARAM_LIMITS[sensor_type]:
                    sensor[param] = data[param]
                sensors = self._sensors
                if current is None:
                    sensors.append(sensor)
                else:
                    sensors[sensors.index(current)] = sensor
                return self._save(sensors=sensors)
        taken = {s["pin"] for s in others}
        pins = [
            protocol.format_pin(pin)
            for pin in protocol.valid_pins(self._platform, sensor_type)
            if pin not in taken
        ]
        fields: dict[Any, Any] = {
            probatio.Required(CONF_NAME): TextSelector(),
            probatio.Required(CONF_PIN): SelectSelector(
                SelectSelectorConfig(
                    options=pins, custom_value=True, mode=SelectSelectorMode.DROPDOWN
                )
            ),
        }
        for param in protocol.PARAM_LIMITS[sensor_type]:
            fields[probatio.Required(param)] = NumberSelector(
                NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
            )
        suggested: dict[str, Any] = dict(protocol.DEFAULTS[sensor_type])
        if current is not None:
            suggested |= {k: v for k, v in current.items() if k in (CONF_NAME, *suggested)}
            suggested[CONF_PIN] = protocol.format_pin(current["pin"])
        suggested |= user_input or {}
        return self.async_show_form(
            step_id="sensor",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders={"type": sensor_type, "platform": self._platform},
        )

    def _sensor_validator(self, others: list[dict[str, Any]]) -> probatio.Schema:
        platform = self._platform
        sensor_type = self._sensor_type
        names = {str(s.get("name") or s["id"]).casefold() for s in others}
        pins = {s["pin"] for s in others}

        def name(value: Any) -> str:
            text = str(value).strip()
            if not 1 <= len(text) <= protocol.NAME_MAX:
                raise probatio.Invalid("invalid_name")
            if text.casefold() in names:
                raise probatio.Invalid("name_in_use")
            return text

        def pin(value: Any) -> protocol.Pin:
            try:
                parsed = protocol.parse_pin(str(value))
            except ProtocolError as err:
                raise probatio.Invalid("invalid_pin") from err
            if protocol.pin_error(platform, sensor_type, parsed) is not None:
                output_only = platform != "rp2" and isinstance(parsed, int) and parsed >= 34
                raise probatio.Invalid(
                    "pin_input_only"
                    if output_only and parsed in protocol.valid_pins(platform, "motion")
                    else "invalid_pin"
                )
            if parsed in pins:
                raise probatio.Invalid("pin_in_use")
            return parsed

        fields: dict[Any, Any] = {
            probatio.Required(CONF_NAME): name,
            probatio.Required(CONF_PIN): pin,
        }
        for param, (low, high) in protocol.PARAM_LIMITS[sensor_type].items():
            fields[probatio.Required(param)] = _whole(f"{param}_range", low, high)
        return probatio.Schema(fields)

    async def async_step_node_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Telemetry interval and log level of the node."""
        validator = probatio.Schema(
            {
                probatio.Required(CONF_TELEMETRY_INTERVAL): _whole(
                    "telemetry_interval_range", *protocol.TELEMETRY_INTERVAL
                ),
                probatio.Required(CONF_LOG_LEVEL): probatio.All(
                    probatio.In(LOG_LEVEL_CHOICES), LOG_LEVEL_CHOICES.get
                ),
            }
        )
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = _errors(validator, user_input)
            if not errors:
                return self._save(**data)
        schema = probatio.Schema(
            {
                probatio.Required(CONF_TELEMETRY_INTERVAL): NumberSelector(
                    NumberSelectorConfig(mode=NumberSelectorMode.BOX, step=1)
                ),
                probatio.Required(CONF_LOG_LEVEL): _select(list(LOG_LEVEL_CHOICES), "log_level"),
            }
        )
        options = self._options
        suggested = {
            CONF_TELEMETRY_INTERVAL: options[CONF_TELEMETRY_INTERVAL],
            CONF_LOG_LEVEL: next(
                key for key, level in LOG_LEVEL_CHOICES.items() if level == options[CONF_LOG_LEVEL]
            ),
        } | (user_input or {})
        return self.async_show_form(
            step_id="node_settings",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    def _save(self, **changes: Any) -> ConfigFlowResult:
        """Store the new configuration; the entry's update listener sends it to the node."""
        options = next_options(self.config_entry, **changes)
        problems = protocol.validate_config(protocol.config_body(options, 1), self._platform)
        if problems:
            return self.async_abort(
                reason="invalid_config", description_placeholders={"errors": "; ".join(problems)}
            )
        return self.async_create_entry(data=options)
