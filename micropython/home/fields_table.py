# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;
# do not edit. Loaded by home/launch.py while a configuration is run: each driver's
# class keeps its type's fields. Kinds: i int, b bool, n number.
# type -> ((set field, kind, low, high), ...), for the types that take `set`
FIELDS = {
    "led": (("on", "b", None, None), ("brightness", "i", 0, 255), ("transition", "n", 0, 60)),
    "status_led": (("on", "b", None, None),),
    "relay": (("on", "b", None, None),),
    "pwm_output": (("duty", "n", 0, 100),),
}
