"""`python -m bench.faults [--json]`: every injected fault on the simulated bath, with the safety
supervisor deciding the heater.

The bath: 5 L, 500 W, still water, warmed from 30 C by HeaterControl and holding 38 C; every
reading goes to the control law, then to the supervisor, and the heater is driven as the
supervisor says. Each fault is injected at several moments (spread over one hold cycle, or
over the end of the warming) and the worst run is shown: seconds from the onset until the
supervisor forces the heater off, readings from the first bad reading until then (0: that
same reading), after a glitch while warming the readings from the first good one until the
heater is on again ("back"), seconds until a fault is reported, the hottest the true water got
(what the feet feel) and the fault's message. Glitches are injected for a time, never a count
of reads. A stuck relay with no safety relay heats whatever is commanded: its run ends when the
fault is reported, the moment staff can switch the heater off at the mains.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from hardware import safety
from hardware.control import HeaterControl
from hardware.reading import Reading, reading_from
from hardware.safety import Limits, Supervisor, Verdict
from hardware.thermal import BathParams, ThermalBath

TARGET_C = 38.0
WARM_FROM_C = 30.0
SETTLE_S = 1500.0  # warming takes about 9 min; the rest settles the hold (and the law's learning)
HOLD_ONSETS_S = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0)  # one hold cycle: pulses at most every 2 min
WARMING_ONSETS_S = (300.0, 360.0, 420.0, 480.0)  # heater flat out, water 35-37.5 C
OVERHOT_FILL_C = 43.0
CONFIRM_FILL_S = 30.0  # the customer taps "filled" this long after filling: the heating phase begins
AFTER_FAULT_S = 300.0  # keep watching the water after the report: the element's stored heat
WATCH_S = 1200.0  # how long to watch a fault that is never reported
TARGETS = {"off_after_bad_reads": 1, "heat_back_reads": 1, "probe_lifted_peak_c": 40.5,
           "relay_stuck_report_below_c": 42.0, "contained_peak_c": 40.5}
ADVICE = ("Check", "Fill", "Put", "switch", "Take")  # every message says what to do
# The heater is off because of the fault (not merely at the target, or between pulses).
FAULT_REASONS = {safety.FAULT, safety.BAD_READING, safety.OLD_READING, safety.NO_READING, safety.NO_WATER}


def simulated_read(bath: ThermalBath, now_s: float) -> Reading:
    """The Reading the real thermometer adapter would make of what the simulated sensor says."""
    return reading_from(bath.sensor_output(), now_s)


class Loop:
    """The bath, the control law and the supervisor wired as the controller wires them: one
    tick per reading, the heater driven as the verdict says. `read` turns the simulated sensor
    into a Reading (tests pass one that goes through real w1_slave files)."""

    def __init__(self, params: BathParams | None = None, *, water_c: float = WARM_FROM_C, seed: int = 0,
                 float_switch: bool = False, target_c: float = TARGET_C, session_s: float = 3600.0,
                 read: Callable[[ThermalBath, float], Reading] = simulated_read,
                 check_probe: bool = False, safety_relay: bool = False):
        self.params = params or BathParams()
        self.read = read
        self.bath = ThermalBath(self.params, water_c=water_c, seed=seed)
        self.law = HeaterControl(heater_w=self.params.heater_w, litres=self.params.litres)
        limits = Limits(heater_w=self.params.heater_w, litres=self.params.litres)
        self.supervisor = Supervisor(limits, check_probe=check_probe, safety_relay=safety_relay)
        self.supervisor.start_session(now_s=0.0, max_heater_on_s=limits.heater_budget_s(session_s))
        self.float_switch = float_switch
        self.check_probe, self.safety_relay = check_probe, safety_relay
        self.target_c = target_c
        self.heating_phase = True
        self.heater = False
        self.safety_closed = False  # as driven (only counts when a safety relay is fitted)

    @property
    def now_s(self) -> float:
        return self.bath.elapsed_s

    def tick(self) -> tuple[Reading, Verdict]:
        """One read of the sensor (it takes its own 0.8-1.8 s), then decide and drive."""
        self.bath.step(self.bath.read_duration_s(), heater_on=self.heater,
                       safety_closed=self.safety_closed or not self.safety_relay)
        now = self.bath.elapsed_s
        reading = self.read(self.bath, now)
        check = reading_from(self.bath.check_sensor_output(), now) if self.check_probe else None
        want = self.law.tick(now_s=now, water_c=reading.water_c, target_c=self.target_c)
        verdict = self.supervisor.tick(
            now_s=now, reading=reading, heat_wanted=want, heating_phase=self.heating_phase,
            target_c=self.target_c, heater_driven=self.heater,
            water_present=self.bath.water_present if self.float_switch else None,
            estimate_c=self.law.estimate_c, check=check)
        if want and not verdict.heater:
            self.law.overruled(now_s=now)
        self.heater, self.safety_closed = verdict.heater, verdict.safety_relay
        self.wanted = want
        return reading, verdict

    def run_until(self, end_s: float) -> None:
        while self.now_s < end_s:
            self.tick()


@dataclass(frozen=True)
class Run:
    """What one injection did; times in seconds from the onset, None when it never happened."""

    onset_s: float
    heater_off_s: float | None  # the supervisor forced the heater off for the fault
    off_after_bad_reads: int | None  # readings after the first bad one until then (0: at once)
    fault_s: float | None
    fault_code: str | None
    fault_message: str | None
    peak_c: float  # the true water, from the onset to the end of the run
    water_at_fault_c: float | None
    heat_back_reads: int | None  # a glitch while heating: readings after the first good one
    #                              until the heater was on again (0: at that very reading)


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    inject: Callable[[ThermalBath], None] = field(repr=False)
    start: str = "hold"  # "hold", "warming" or "empty" (the fill prompt: empty basin, probe in air)
    float_switch: bool = False
    check_probe: bool = False  # a second probe on the bus
    safety_relay: bool = False  # a second relay in series with the heater
    expect_fault: bool = True
    stop_at_fault: bool = False  # a stuck relay with no safety relay: staff switch off at the mains

    @property
    def onsets_s(self) -> tuple[float, ...]:
        return {"hold": HOLD_ONSETS_S, "warming": WARMING_ONSETS_S}.get(self.start, (60.0,))


def _drifting(offset_c: float, over_s: float) -> Callable[[ThermalBath], None]:
    return lambda bath: bath.drift_probe(offset_c, over_s)


CASES = (
    Case("probe_lifted", "probe pulled out of the water while holding", ThermalBath.lift_probe),
    Case("probe_lifted_warming", "probe pulled out while warming flat out", ThermalBath.lift_probe,
         start="warming"),
    Case("sensor_unplugged", "probe unplugged from the bus for good", ThermalBath.unplug_sensor),
    Case("unplugged_8s", "probe unplugged and plugged back within 8 s while warming (a glitch)",
         lambda b: b.unplug_sensor(8.0), start="warming", expect_fault=False),
    Case("crc_once", "one CRC failure while holding (a glitch)", lambda b: b.crc_burst(0.5),
         expect_fault=False),
    Case("crc_5s", "CRC failures for 5 s while warming (a glitch)", lambda b: b.crc_burst(5.0),
         start="warming", expect_fault=False),
    Case("crc_12s", "CRC failures for 12 s", lambda b: b.crc_burst(12.0)),
    Case("power_on_85", "the 85.000 C power-on value for 1 s while warming (a glitch)",
         lambda b: b.glitch_85(1.0), start="warming", expect_fault=False),
    Case("reading_frozen", "the reading freezes at its current value", ThermalBath.freeze_reading),
    Case("reading_frozen_warming", "the reading freezes while warming", ThermalBath.freeze_reading,
         start="warming"),
    Case("relay_stuck", "the heater relay welds shut while holding", ThermalBath.stick_relay,
         stop_at_fault=True),
    Case("relay_stuck_safety", "the heater relay welds shut; a safety relay is fitted: it holds the "
         "water as the heater relay did, and the weld goes unnamed", ThermalBath.stick_relay,
         safety_relay=True, expect_fault=False),
    Case("probe_drift", "the probe drifts 2 C low over 5 min; a second probe is fitted",
         _drifting(-2.0, 300.0), check_probe=True),
    Case("probe_drop", "the probe reads 2 C low from one reading to the next; a second probe",
         _drifting(-2.0, 0.0), check_probe=True),
    Case("basin_emptied_float", "the basin empties; float switch fitted", ThermalBath.empty_basin,
         float_switch=True),
    Case("basin_emptied", "the basin empties; no float switch", ThermalBath.empty_basin),
    Case("overhot_fill", f"an empty basin is filled at {OVERHOT_FILL_C:.0f} C",
         lambda b: b.fill(OVERHOT_FILL_C), start="empty"),
    Case("feet_in", "feet go in while holding (healthy: no fault)", ThermalBath.feet_in,
         expect_fault=False),
)


def _start(case: Case, params: BathParams, seed: int, cache: dict) -> Loop:
    """A fresh copy of the case's starting state (warming and settling are done once)."""
    key = (case.start, case.float_switch, case.check_probe, case.safety_relay, params, seed)
    if key not in cache:
        fitted = {"float_switch": case.float_switch, "check_probe": case.check_probe,
                  "safety_relay": case.safety_relay}
        if case.start == "empty":
            loop = Loop(params, water_c=params.room_c, seed=seed, **fitted)
            loop.bath.empty_basin()
            loop.heating_phase = False
        else:
            loop = Loop(params, seed=seed, **fitted)
            if case.start == "hold":
                loop.run_until(SETTLE_S)
        cache[key] = loop
    return copy.deepcopy(cache[key])


def run_case(case: Case, onset_offset_s: float, *, params: BathParams | None = None, seed: int = 0,
             cache: dict | None = None) -> Run:
    """Start from the case's state (settled hold, warming or empty basin), wait onset_offset_s,
    inject the fault and watch. `cache` (any dict) keeps the starting states between calls."""
    loop = _start(case, params or BathParams(), seed, {} if cache is None else cache)
    loop.run_until(loop.now_s + onset_offset_s)
    onset = loop.now_s
    heating = loop.heater
    case.inject(loop.bath)
    peak = loop.bath.water_c
    first_bad = off = fault = None
    reads_since_bad = 0
    reads_since_good: int | None = None  # after a glitch while heating, until heat is back
    heat_back = None
    end = onset + WATCH_S
    while loop.now_s < end:
        if loop.now_s >= onset + CONFIRM_FILL_S:
            loop.heating_phase = True
        reading, verdict = loop.tick()
        peak = max(peak, loop.bath.water_c)
        if first_bad is None and not reading.ok:
            first_bad = loop.now_s
        elif first_bad is not None and off is None:
            reads_since_bad += 1
        if heating and first_bad is not None and heat_back is None and fault is None:
            if reads_since_good is None and reading.ok:
                reads_since_good = 0
            elif reads_since_good is not None:
                reads_since_good += 1
            if reads_since_good is not None and loop.heater:
                heat_back = reads_since_good
        if off is None and FAULT_REASONS & set(verdict.reasons):
            off = loop.now_s
        if fault is None and verdict.new_faults:
            fault = (loop.now_s, verdict.new_faults[0], loop.bath.water_c)
            end = loop.now_s if case.stop_at_fault else loop.now_s + AFTER_FAULT_S
    return Run(
        onset_s=onset,
        heater_off_s=None if off is None else off - onset,
        off_after_bad_reads=None if first_bad is None or off is None else reads_since_bad,
        fault_s=None if fault is None else fault[0] - onset,
        fault_code=None if fault is None else fault[1].code,
        fault_message=None if fault is None else fault[1].message,
        peak_c=peak,
        water_at_fault_c=None if fault is None else fault[2],
        heat_back_reads=heat_back,
    )


def _worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def run_all(*, seed: int = 0, cases: tuple[Case, ...] = CASES) -> list[dict]:
    cache: dict = {}
    rows = []
    for case in cases:
        runs = [run_case(case, offset, seed=seed, cache=cache) for offset in case.onsets_s]
        reported = [run for run in runs if run.fault_code]
        rows.append({
            "case": case.name,
            "description": case.description,
            "expect_fault": case.expect_fault,
            "glitch_while_heating": case.start == "warming" and not case.expect_fault,
            "onsets": len(runs),
            "faulted": len(reported),
            "worst": {
                "heater_off_s": _worst(r.heater_off_s for r in runs),
                "off_after_bad_reads": _worst(r.off_after_bad_reads for r in runs),
                "fault_s": _worst(r.fault_s for r in runs),
                "peak_c": _worst(r.peak_c for r in runs),
                "water_at_fault_c": _worst(r.water_at_fault_c for r in runs),
                "heat_back_reads": _worst(r.heat_back_reads for r in runs),
            },
            "fault_codes": sorted({r.fault_code for r in reported}),
            "message": reported[0].fault_message if reported else None,
            "runs": [asdict(r) for r in runs],
        })
    return rows


def targets_met(rows: list[dict]) -> dict[str, bool]:
    reads = [row["worst"]["off_after_bad_reads"] for row in rows]
    lifted = [row for row in rows if row["case"].startswith("probe_lifted")]
    stuck = [row for row in rows if row["case"] == "relay_stuck"]
    glitches = [row for row in rows if row["glitch_while_heating"]]
    contained = [row for row in rows if row["case"] in ("relay_stuck_safety", "probe_drift", "probe_drop")]
    messages = [row["message"] for row in rows if row["message"]]
    return {
        "heater off within one reading after any bad reading":
            all(r is None or r <= TARGETS["off_after_bad_reads"] for r in reads),
        "a glitch while warming: heat back within one reading of the first good one":
            all(row["worst"]["heat_back_reads"] is not None
                and row["worst"]["heat_back_reads"] <= TARGETS["heat_back_reads"] for row in glitches),
        f"probe lifted: water at or below {TARGETS['probe_lifted_peak_c']} C":
            all(row["worst"]["peak_c"] <= TARGETS["probe_lifted_peak_c"] for row in lifted),
        f"stuck relay reported below {TARGETS['relay_stuck_report_below_c']:.0f} C":
            all(row["faulted"] == row["onsets"]
                and row["worst"]["water_at_fault_c"] < TARGETS["relay_stuck_report_below_c"]
                for row in stuck),
        f"a welded relay behind a safety relay, a probe drifting 2 C low beside a second one: "
        f"the water at or below {TARGETS['contained_peak_c']} C":
            all(row["worst"]["peak_c"] <= TARGETS["contained_peak_c"] for row in contained),
        "every expected fault reported, no fault where none is due":
            all((row["faulted"] == row["onsets"]) if row["expect_fault"] else row["faulted"] == 0
                for row in rows),
        "every fault message says what to check":
            all(any(word in m for word in ADVICE) for m in messages),
    }


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: list[dict], out=None) -> None:
    out = out or sys.stdout
    print(__doc__.split("\n\n", 1)[1].strip(), file=out)
    header = (f"\n{'case':<24}{'runs':>5}{'faulted':>8}{'off s':>7}{'reads':>6}{'back':>5}{'fault s':>8}"
              f"{'peak C':>8}{'at fault C':>11}  fault")
    print(header, file=out)
    print("-" * (len(header) + 10), file=out)
    for row in rows:
        w = row["worst"]
        print(f"{row['case']:<24}{row['onsets']:>5}{row['faulted']:>8}{_fmt(w['heater_off_s']):>7}"
              f"{_fmt(w['off_after_bad_reads'], 0):>6}{_fmt(w['heat_back_reads'], 0):>5}"
              f"{_fmt(w['fault_s']):>8}{_fmt(w['peak_c'], 2):>8}"
              f"{_fmt(w['water_at_fault_c'], 2):>11}  {', '.join(row['fault_codes']) or 'none'}",
              file=out)
    print("\nWhat each case is, and what the touchscreen says:", file=out)
    for row in rows:
        print(f"  {row['case']}: {row['description']}\n      {row['message'] or '(no fault)'}", file=out)
    print("\nTargets:", file=out)
    for name, ok in targets_met(rows).items():
        print(f"  {'met   ' if ok else 'MISSED'} {name}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--seed", type=int, default=0, help="the simulated sensor's random seed")
    args = parser.parse_args(argv)
    rows = run_all(seed=args.seed)
    if args.json:
        json.dump({"bath": asdict(BathParams()), "target_c": TARGET_C, "targets": TARGETS,
                   "cases": rows, "targets_met": targets_met(rows)}, sys.stdout, indent=2)
        print()
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
