"""Which screen to show: a pure function of the controller's status and the kiosk's own state.

The controller owns the session; the kiosk only remembers what never leaves the screen: the
routine a customer picked before answering the health question, whether they dismissed the
summary, and the staff screen. So a restarted kiosk shows the right screen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFLINE, HOME, HEALTH, FILL, WARM, READY, SOAK, STEP, DONE, FAULT, PIN, STAFF = (
    "offline", "home", "health", "fill", "warm", "ready", "soak", "step", "done", "fault", "pin",
    "staff")
SESSION_SCREENS = {"fill": FILL, "heating": WARM, "ready": READY, "soaking": SOAK, "steps": STEP}
# The screen a customer most likely sees next: the kiosk prepares it while this one is still.
NEXT = {OFFLINE: HOME, HOME: HEALTH, HEALTH: FILL, FILL: WARM, WARM: READY, READY: SOAK, SOAK: STEP,
        STEP: DONE, DONE: HOME}
# Where a screen can lead back to without going home first: cooling water turns ready to warming.
BACK = {READY: WARM}


def worth_keeping(current: str) -> set[str]:
    """The screens the kiosk keeps built while `current` shows: itself, home, the one most likely
    next and the one it can fall back to. Any other is let go (and built again if it is wanted
    after all): the warm-up screens once the soak has begun, the session's once it is over."""
    return {current, HOME} | {key for key in (NEXT.get(current), BACK.get(current)) if key}


@dataclass
class UiState:
    chosen: str | None = None  # routine picked; the health question comes next
    dismissed: bool = False  # the customer tapped Finish on the summary
    pin_entry: bool = False
    staff: str | None = None  # who is signed in on the staff screen

    def seen(self, status: dict | None) -> None:
        """Forget what belonged to a session once a new one is under way; a PIN pad opened just
        before must not hide the session (and its Stop) either."""
        if status and status["phase"] in SESSION_SCREENS:
            self.chosen = None
            self.dismissed = False
            self.pin_entry = False


def screen_for(status: dict | None, ui: UiState) -> str:
    if status is None:
        return OFFLINE
    if ui.staff:
        return STAFF
    if ui.pin_entry:
        return PIN
    phase = status["phase"]
    if status["faults"] or phase == "fault":
        return FAULT
    if phase in SESSION_SCREENS:
        return SESSION_SCREENS[phase]
    if phase == "done" and not ui.dismissed:
        return DONE
    return HEALTH if ui.chosen else HOME
