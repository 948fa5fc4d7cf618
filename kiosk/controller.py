"""The bath controller: joins the session runner, the control law, the safety supervisor,
the outputs and the journal. One `step` per thermometer reading; API requests (`handle`) in
between.

The control loop takes its time as an argument (`now_s`, monotonic seconds), so it runs on a
simulated bath in tests at any speed; only a buzzer pattern plays in real time, on a thread of
its own. `step`, `handle` and `status` take the controller's lock, so the control loop and the
API thread never interleave inside them; a staff PIN is checked outside it (scrypt is slow on
purpose, and the loop must not wait for it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import fields
from typing import Any

from hardware import safety
from hardware.control import HeaterControl
from hardware.errors import HardwareError
from hardware.physics import WATER_J_PER_L_K
from hardware.reading import Reading
from hardware.rig import Rig
from hardware.safety import READING_MAX_AGE_S, Limits, SafetyError, Supervisor
from routines import Library, Routine, RoutineError, Session, SessionError
from routines.runner import DONE, ENDED, FAULT, READY, STOPPED

from .cleaning import CleaningCycle
from .config import Config
from .journal import SAMPLE_EVERY_S, Journal
from .protocol import NOT_FOUND, REFUSED, UNAUTHORIZED, UNKNOWN_OP, ApiRefused
from .staff_pins import PinGuard, PinStore

log = logging.getLogger(__name__)

IDLE = "idle"
RATE_WINDOW_S = 120.0  # the warming estimate uses this much of the recent readings
GRAPH_POINTS = 720  # an hour of 5-s samples for the touchscreen's graph


class Controller:
    def __init__(self, config: Config, *, rig: Rig, library: Library, journal: Journal | None,
                 pins: PinStore, now_s: float, simulated: bool = False,
                 journal_error: str | None = None):
        self.config = config
        self.rig = rig
        self.library = library
        self.journal = journal
        self.pins = pins
        self.simulated = simulated
        self.journal_error = journal_error  # why there is no journal, when there is none
        self.status_extras = None  # more of the service's state for status (e.g. MQTT)
        self.lock = threading.RLock()
        self.limits = Limits(ceiling_c=config.bath.ceiling_c, heater_w=config.bath.heater_w,
                             litres=config.bath.litres)
        self.supervisor = Supervisor(  # locked: nothing heats until a person starts
            self.limits, check_probe=config.hardware.thermometer.check_sensor_id is not None,
            safety_relay="safety_relay" in rig.pins)
        self.law = self._new_law()
        self.guard = PinGuard()
        self.session: Session | None = None
        self.session_id: int | None = None
        self.started_s = 0.0
        self.ended_s: float | None = None
        self.idle_done = True
        self.reading: Reading | None = None
        self.check: Reading | None = None  # the second probe's, when one is fitted
        self.verdict: safety.Verdict | None = None
        self.now_s = now_s
        self.next_sample_s = now_s
        self.graph: deque[tuple[float, float | None]] = deque(maxlen=GRAPH_POINTS)
        self.recent: deque[tuple[float, float]] = deque()
        self.cleaning: CleaningCycle | None = None
        self.interrupted: list[int] = []
        self.cleaning_needed = False
        self.note = ""  # why the last session ended, when not by itself
        if journal is not None:
            self.interrupted = journal.mark_interrupted()
            last_end, last_clean = journal.last_session_end(), journal.last_cleaning()
            self.cleaning_needed = last_end is not None and (last_clean is None or last_clean < last_end)
            journal.prune(config.journal.keep_days)
        self.cleaning_needed = self.cleaning_needed and config.cleaning.required
        rig.all_off()

    def _new_law(self) -> HeaterControl:
        bath = self.config.bath
        return HeaterControl(heater_w=bath.heater_w, litres=bath.litres, ceiling_c=bath.ceiling_c)

    # -- the control loop -------------------------------------------------------------------

    def step(self, now_s: float, reading: Reading | None, check: Reading | None = None) -> None:
        """One pass: session, control law, supervisor, outputs, journal. `check` is the second
        probe's newest reading, when one is fitted."""
        with self.lock:
            self.now_s = max(self.now_s, now_s)
            self.reading, self.check = reading, check
            water_c = self.water_c()
            if self.rig.stopped and self.active():
                self._end(STOPPED, "the STOP button was pressed", by_staff="stop button")
            session = self.session
            if session is not None and session.phase not in (*ENDED, FAULT):
                session.tick(now_s=now_s, water_c=water_c, estimate_c=self.law.estimate_c)
                if now_s - self.started_s > self._time_limit_s(session.routine):
                    self._end(STOPPED, "the session ran past its time limit")
            snap = self.session.snapshot() if self.session else None
            heat_phase = bool(snap and snap.heat_wanted)
            if water_c is not None:
                self.recent.append((now_s, water_c))
            while self.recent and now_s - self.recent[0][0] > RATE_WINDOW_S:
                self.recent.popleft()
            want = heat_phase and self.law.tick(now_s=now_s, water_c=water_c, target_c=snap.target_c)
            verdict = self.supervisor.tick(
                now_s=now_s, reading=reading, heat_wanted=want, heating_phase=heat_phase,
                target_c=snap.target_c if snap else None, heater_driven=self.rig.heater_on,
                water_present=self.rig.water_present, estimate_c=self.law.estimate_c, check=check)
            self.verdict = verdict
            if want and not verdict.heater:
                self.law.overruled(now_s=now_s)
            for fault in verdict.new_faults:
                self._on_fault(fault)
            self._drive(verdict)
            self._record(now_s, water_c)
            self._check_ended(now_s)

    def _drive(self, verdict: safety.Verdict) -> None:
        """Outputs exactly as the supervisor allows; anything it forbids is off."""
        session = self.session
        snap = session.snapshot() if session and session.phase not in ENDED else None
        running = snap is not None and snap.phase not in (FAULT,)
        try:
            self.rig.set_heater(verdict.heater)  # first: the safety relay never breaks its current
            if "safety_relay" in self.rig.pins:
                self.rig.set_safety_relay(verdict.safety_relay)
            if "pump" in self.rig.pins:
                self.rig.set_pump(bool(running and snap.bubbles and verdict.pump_allowed))
            if "vibration" in self.rig.pins:
                pct = snap.vibration_pct if running and verdict.vibration_allowed else 0
                self.rig.set_vibration(pct)
        except HardwareError as exc:  # STOP pressed this instant: it refuses switch-ons
            log.warning("outputs: %s", exc)
            self.rig.all_off()

    def _record(self, now_s: float, water_c: float | None) -> None:
        # Only while the session runs: after a fault it has ended (journaled with its end), and
        # the water afterwards is not part of its record.
        if not self.active() or now_s < self.next_sample_s:
            return
        self.next_sample_s = now_s + SAMPLE_EVERY_S
        self.graph.append((round(now_s - self.started_s, 1), water_c))
        if self.journal is not None:
            self.journal.sample(self.session_id, water_c, self.rig.heater_on)

    def _check_ended(self, now_s: float) -> None:
        session = self.session
        if session is not None and session.phase in (DONE, STOPPED) and self.ended_s is None:
            self._finish(session.phase)
        if self.ended_s is not None and not self.idle_done and now_s - self.ended_s >= self.idle_off_s:
            self.rig.all_off()
            self.idle_done = True
            if self.session is not None and self.session.phase in ENDED:
                self.session = None

    @property
    def idle_off_s(self) -> float:
        return self.config.session.idle_off_s

    def _time_limit_s(self, routine: Routine) -> float:
        return routine.length_s + self.config.session.margin_s

    def _on_fault(self, fault: safety.Fault) -> None:
        log.error("fault %s: %s", fault.code, fault.message)
        if self.journal is not None:
            self.journal.fault(self.session_id if self.active() else None, fault.code, fault.message)
        if self.active():
            self.session.fault(now_s=self.now_s, code=fault.code, message=fault.message)
            self._finish("fault")

    def _finish(self, outcome: str) -> None:
        """The session ended: record it, lock the heat, and ask for a cleaning."""
        self.ended_s = self.now_s
        self.idle_done = False
        self.supervisor.end_session(now_s=self.now_s)
        if self.journal is not None:
            self.journal.session_ended(self.session_id, outcome)
            self.journal.prune(self.config.journal.keep_days)  # bounded, however long it runs
        self.cleaning_needed = self.config.cleaning.required

    def _end(self, phase: str, note: str, by_staff: str | None = None) -> None:
        self.note = note
        if self.session is not None and self.session.phase not in (*ENDED, FAULT):
            self.session.stop(now_s=self.now_s)
            self._finish(phase)
        if by_staff and self.journal is not None:
            self.journal.staff_action(by_staff, "stop", note)

    def active(self) -> bool:
        return self.session is not None and self.session.phase not in (*ENDED, FAULT)

    def water_c(self) -> float | None:
        return self._fresh_c(self.reading)

    def _fresh_c(self, r: Reading | None) -> float | None:
        if r is None or not r.ok or r.age_s(self.now_s) > READING_MAX_AGE_S:
            return None
        return r.water_c

    # -- requests ---------------------------------------------------------------------------

    def handle(self, op: str, args: dict) -> Any:
        method = getattr(self, f"op_{op}", None)
        if method is None:
            raise ApiRefused(UNKNOWN_OP, f"unknown op {op!r}")
        if "pin" in args:
            args = {**args, "who": self._staff(args["pin"])}
            del args["pin"]
        with self.lock:
            try:
                return method(**args)
            except (SessionError, SafetyError) as exc:
                raise ApiRefused(REFUSED, str(exc)) from None
            except RoutineError as exc:
                raise ApiRefused(NOT_FOUND, str(exc)) from None

    def op_status(self) -> dict:
        return self.status()

    def op_routines(self) -> list[dict]:
        return [routine_summary(e.routine, e.source) for e in self.library]

    def op_samples(self) -> list[list]:
        return [list(point) for point in self.graph]

    def op_start(self, routine: str, profile: str = "standard") -> dict:
        if self.active():
            raise ApiRefused(REFUSED, "a session is already running; stop it first")
        if self.supervisor.faults:
            raise ApiRefused(REFUSED, "a fault needs a staff member first: "
                                        + self.supervisor.faults[0].message)
        if self.cleaning_needed:
            raise ApiRefused(REFUSED, "the basin needs cleaning before the next session; please "
                                        "call staff")
        if self.rig.stop_pressed:
            raise ApiRefused(REFUSED, "the STOP button is held down; release it first")
        chosen = self.library.get(routine)
        self.rig.clear_stop()
        self.session = Session.start(chosen, profile=profile, now_s=self.now_s)
        self.supervisor.start_session(now_s=self.now_s,
                                      max_heater_on_s=self.limits.heater_budget_s(chosen.length_s))
        self.law = self._new_law()
        self.started_s = self.now_s
        self.ended_s = None
        self.idle_done = True
        self.note = ""
        self.graph.clear()
        self.next_sample_s = self.now_s
        self.interrupted = []
        snap = self.session.snapshot()
        self.session_id = None
        if self.journal is not None:
            self.session_id = self.journal.session_started(chosen.id, chosen.name, profile, snap.target_c)
        return self.status()

    def _event(self, name: str, **kwargs) -> dict:
        if self.session is None:
            raise ApiRefused(REFUSED, f"cannot {name}: no session is running")
        getattr(self.session, name)(now_s=self.now_s, **kwargs)
        self._check_ended(self.now_s)
        return self.status()

    def op_confirm(self) -> dict:
        feet_going_in = self.session is not None and self.session.phase == READY
        status = self._event("confirm")
        if feet_going_in:  # the tap that starts the soak: the law is told at once
            self.law.feet_in(now_s=self.now_s)
        return status

    def op_pause(self) -> dict:
        return self._event("pause")

    def op_resume(self) -> dict:
        return self._event("resume")

    def op_next(self) -> dict:
        return self._event("next")

    def op_back(self) -> dict:
        return self._event("back")

    def op_extend(self, seconds: float = 60) -> dict:
        return self._event("extend", seconds=seconds)

    def op_stop(self) -> dict:
        if not self.active():
            raise ApiRefused(REFUSED, "cannot stop: no session is running")
        self._end(STOPPED, "stopped by the customer")
        self.rig.all_off()
        return self.status()

    def op_heater_off(self) -> dict:
        self.rig.all_off()
        self._end(STOPPED, "every output switched off by staff (heater-off)", by_staff="heater-off")
        self.supervisor.end_session(now_s=self.now_s)
        return self.status()

    def op_buzz(self, pattern: list[float]) -> dict:
        """Sound the buzzer (the kiosk's chime when it has no speaker): on, off, on, ... seconds.
        Played on its own thread, since the control loop only runs once a reading."""
        if "buzzer" in self.rig.pins and not self.rig.stopped:
            threading.Thread(target=self._play_buzzer, args=(list(pattern),), name="footbath-buzz",
                             daemon=True).start()
        return {"buzzer": "buzzer" in self.rig.pins}

    def _play_buzzer(self, pattern: list[float]) -> None:
        try:
            for i, seconds in enumerate(pattern):
                self.rig.set_buzzer(i % 2 == 0)
                time.sleep(seconds)
        except HardwareError:  # STOP pressed, or the rig closed: stay silent
            return
        finally:
            with contextlib.suppress(HardwareError):
                self.rig.set_buzzer(False)

    def _staff(self, pin: str) -> str:
        """Who this PIN belongs to. Checking a PIN is deliberately slow (scrypt), so it runs
        outside the controller's lock: the control loop never waits for it."""
        with self.lock:
            self.guard.check_allowed(self.now_s)
        who = self.pins.who(pin)
        with self.lock:
            self.guard.record(who is not None, self.now_s)
        if who is None:
            raise ApiRefused(UNAUTHORIZED, "wrong staff PIN")
        return who

    def op_check_pin(self, who: str) -> dict:
        return {"who": who}

    def op_ack_fault(self, who: str) -> dict:
        if not self.supervisor.faults:
            raise ApiRefused(REFUSED, "there is no fault to acknowledge")
        cleared = self.supervisor.acknowledge(now_s=self.now_s)
        if self.journal is not None:
            self.journal.faults_acknowledged(who)
            self.journal.staff_action(who, "ack_fault", ", ".join(f.code for f in cleared))
        if self.session is not None and self.session.phase == FAULT:
            self.session = None
            self.idle_done = False
        return self.status()

    def op_clean(self, who: str, action: str) -> dict:
        if action == "start":
            if self.active():
                raise ApiRefused(REFUSED, "a session is running; clean after it")
            self.cleaning = CleaningCycle(who=who, contact_s=self.config.cleaning.contact_s,
                                          now_s=self.now_s)
        elif self.cleaning is None:
            raise ApiRefused(REFUSED, "no cleaning cycle is running; start one first")
        elif action == "cancel":
            self.cleaning = None
        else:
            try:
                finished = self.cleaning.next(self.now_s)
            except ValueError as exc:
                raise ApiRefused(REFUSED, str(exc)) from None
            if finished:
                if self.journal is not None:
                    self.journal.cleaning(self.journal.wall() - (self.now_s - self.cleaning.started_s),
                                          who, self.config.cleaning.contact_s)
                self.cleaning = None
                self.cleaning_needed = False
        return self.status()

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict:
        with self.lock:
            session = self.session
            snap = session.snapshot() if session else None
            # The supervisor's own state, not the last verdict: an acknowledgement or a start
            # between two readings shows at once.
            faults = self.supervisor.faults
            return {
                "phase": snap.phase if snap else IDLE,
                "routine": snap.routine_id if snap else None,
                "routine_name": snap.routine_name if snap else None,
                "profile": snap.profile if snap else None,
                "water_c": self.water_c(),
                "check_c": self._fresh_c(self.check),
                "target_c": snap.target_c if snap else None,
                "heater": self.rig.heater_on,
                "safety_relay": self.rig.safety_relay_on if "safety_relay" in self.rig.pins else None,
                "pump": self.rig.pump_on,
                "vibration_pct": self.rig.vibration_pct,
                "water_present": self.rig.water_present,
                "faults": [{"code": f.code, "message": f.message} for f in faults],
                "remaining_s": snap.remaining_s if snap else None,
                "session_remaining_s": snap.session_remaining_s if snap else None,
                "warm_eta_s": self.warm_eta_s(snap),
                "session": flat(snap) if snap else None,
                "note": self.note,
                "cleaning_needed": self.cleaning_needed,
                "cleaning": flat(self.cleaning.state(self.now_s)) if self.cleaning else None,
                "routine_errors": [str(p) for p in self.library.problems],
                "journal_error": self.journal.error if self.journal else self.journal_error,
                "locked": self.supervisor.locked,
                "stop_pressed": self.rig.stop_pressed,
                "interrupted": list(self.interrupted),
                "simulated": self.simulated,
                "now_s": round(self.now_s, 3),
                **(self.status_extras() if self.status_extras else {}),
            }

    def warm_eta_s(self, snap) -> float | None:
        """Time to ready from the measured heating rate (None when unknown or not warming)."""
        if snap is None or snap.phase != "heating" or len(self.recent) < 2:
            return None
        (t0, c0), (t1, c1) = self.recent[0], self.recent[-1]
        water_c = c1
        if water_c >= snap.target_c - 0.5:
            return 0.0
        rate = (c1 - c0) / (t1 - t0) if t1 - t0 >= 30 else 0.0
        if rate <= 0.001:  # not measured yet: the heater's rating, less a fifth for losses
            rate = 0.8 * self.config.bath.heater_w / (self.config.bath.litres * WATER_J_PER_L_K)
        return round((snap.target_c - 0.5 - water_c) / rate, 1)

    def shutdown(self) -> None:
        """The service is stopping: everything off; a running session is recorded as interrupted."""
        with self.lock:
            self.rig.all_off()
            if self.active() and self.journal is not None:
                self.journal.session_ended(self.session_id, "interrupted")

    def set_library(self, library: Library) -> None:
        with self.lock:
            self.library = library


def flat(data) -> dict:
    """A flat dataclass of plain values as a dict; `asdict` deep-copies every value, which at
    every reading and for every watcher costs more than the rest of the status together."""
    return {f.name: getattr(data, f.name) for f in fields(data)}


def routine_summary(routine: Routine, source: str) -> dict:
    return {
        "id": routine.id,
        "name": routine.name,
        "description": routine.description,
        "source": source,
        "target_c": routine.soak.target_c,
        "soak_s": routine.soak.duration_s,
        "length_s": routine.length_s,
        "steps": [step.title for step in routine.steps],
    }
