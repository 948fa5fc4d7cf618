"""The bath's devices by name: one list for the config's keys, the rig's wiring, the staff
tools' words and the supervisor's switches. Plain names only (no gpiozero), so the config and
the staff commands can use it without loading a pin library."""

HEATER, SAFETY_RELAY, PUMP, VIBRATION, BUZZER = "heater", "safety_relay", "pump", "vibration", "buzzer"
STOP_BUTTON, FLOAT_SWITCH = "stop_button", "float_switch"

# What staff call each device, in the order the config lists them (its keys are the names).
LABELS = {
    HEATER: "heater relay",
    PUMP: "bubble pump relay",
    VIBRATION: "vibration motor",
    BUZZER: "buzzer",
    STOP_BUTTON: "STOP button",
    FLOAT_SWITCH: "float switch",
    SAFETY_RELAY: "safety relay",
}
DEVICES = tuple(LABELS)
# Cut in this order: the heater first, then the relay in series with it.
OUTPUTS = (HEATER, SAFETY_RELAY, PUMP, VIBRATION, BUZZER)
