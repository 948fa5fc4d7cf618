"""What the screens say, worked out from the status: plain, kind, and translated.

Pure (no Kivy), so every sentence is tested without a window. Fault and pause codes are the
controller's stable API strings.
"""

from __future__ import annotations

import math

from .i18n import _, decimal_mark

THERMOMETER_CODES = ("sensor_missing", "sensor_crc", "sensor_power_on", "sensor_127", "sensor_zero",
                     "sensor_minus", "sensor_range", "sensor_unreadable", "sensor_stale",
                     "sensor_frozen", "check_sensor")


def fault_words(code: str | None) -> str:
    """The customer's version of a fault: what happened and what to do now."""
    if code in THERMOMETER_CODES:
        return _("The heater is off: the thermometer stopped answering. "
                 "Take your feet out and call staff.")
    words = {
        "overheat": _("The heater is off: the water got too warm. Take your feet out now and call staff."),
        "relay_stuck": _("The water keeps warming even with the heater off. "
                         "Take your feet out now and call staff."),
        "not_heating": _("The heater is off: the water is not warming as it should. Please call staff."),
        "probe_out": _("The heater is off: the thermometer seems to be out of the water. "
                       "Please call staff."),
        "basin_empty": _("The heater is off: the basin seems to be empty. Please call staff."),
        "probes_disagree": _("The heater is off: its two thermometers do not agree. Please call staff."),
        "heater_time": _("The heater is off: it has run longer than a session allows. "
                         "Please call staff."),
    }
    return words.get(code or "", _("The heater is off. Please call staff."))


def pause_words(reason: str | None) -> str:
    return {
        "user": _("Paused. Tap Resume when you are ready."),
        "water_cold": _("The water has cooled a little. The countdown waits while it warms up again."),
        "water_hot": _("The water is a little too warm. The countdown waits while it cools."),
        "no_reading": _("Checking the water temperature. The countdown waits."),
    }.get(reason or "", "")


def temperature(value: float | None) -> str:
    number = "--.-" if value is None else f"{value:.1f}"
    # In the customer's decimal mark, and a no-break space: the unit never wraps away.
    return number.replace(".", decimal_mark()) + "\u00a0°C"


def minutes(seconds: float | None) -> str:
    """A countdown as the customer reads it: 9:05, or 0:42."""
    if seconds is None:
        return ""
    whole = max(0, math.ceil(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def about_minutes(seconds: float) -> str:
    whole = max(1, round(seconds / 60))
    return _("about 1 min") if whole == 1 else _("about {n} min").format(n=whole)


def cooling(status: dict) -> bool:
    """The session waits for water that is too warm (its own judgement, which sees through the
    probe's lag; the reading alone when there is no session to say)."""
    session = status.get("session") or {}
    if "cooling" in session:
        return session["cooling"]
    water, target = status.get("water_c"), status.get("target_c")
    return water is not None and target is not None and water > target + 0.5


def warming_title(status: dict) -> str:
    return _("Letting the water cool") if cooling(status) else _("Warming the water")


def warming_words(status: dict) -> str:
    eta = status.get("warm_eta_s")
    if cooling(status):
        return _("The water is a little too warm. It is cooling down.")
    if eta is None:
        return _("Warming the water")
    if eta <= 0:
        return _("Almost ready")
    return _("Ready in {eta}").format(eta=about_minutes(eta))


def home_state(status: dict) -> str:
    """The home screen's one line about the water."""
    if status.get("cleaning_needed"):
        return _("The basin needs cleaning. Please ask staff.")
    if status.get("water_c") is None:
        return _("Checking the water")
    return _("Ready when you are")


def ready_words(status: dict) -> str:
    water = status.get("water_c") or status.get("target_c")
    return _("The water is at {temp}. Put your feet in, then tap Start.").format(temp=temperature(water))


def foot_words(foot: str | None) -> str:
    return {"left": _("Left foot"), "right": _("Right foot")}.get(foot or "", "")


def step_counter(session: dict) -> str:
    return _("Step {i} of {n}").format(i=session["step_index"] + 1, n=session["step_count"])


def rep_words(session: dict) -> str:
    return _("{i} of {n}").format(i=session["rep"], n=session["reps"])


def next_words(title: str | None) -> str:
    return _("Next: {title}").format(title=title) if title else _("This is the last step")


def done_words(status: dict) -> tuple[str, str]:
    session = status.get("session") or {}
    name = session.get("routine_name")
    finished = _("{name} is finished.").format(name=name) if name else _("Your foot bath is finished.")
    return (_("All done. Thank you!"),
            finished + " " + _("Dry your feet well, including between the toes. "
                               "Staff will clean the basin for the next guest."))


def length_words(seconds: float) -> str:
    return _("{n} min").format(n=max(1, round(seconds / 60)))
