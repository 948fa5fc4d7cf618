"""The heater control laws: their rules on any input, and their figures on the simulated bath.

The rules (off without a reading, off at the target, a relay's minimum times, the switching
budget) are checked on arbitrary reading sequences; the figures on the same scenarios and
seeds the benchmark prints (`python -m bench.control`), deterministically.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.control import SCENARIOS, Scenario, measure, simulate, sweep
from hardware.control import BangBang, HeaterControl, Relay
from hardware.errors import HardwareError
from hardware.reading import reading_from
from hardware.safety import ABOVE_TARGET_C
from hardware.thermal import BathParams, ThermalBath
from routines.model import CEILING_C

SCENARIO = {s.name: s for s in SCENARIOS}
MIN_ON_S, MIN_OFF_S, BUDGET_PER_H = 10.0, 10.0, 30.0


def check_rules(ticks, *, max_per_h: float = math.inf, above_target_c: float = 0.0,
                ceiling_c: float = CEILING_C) -> None:
    """ticks: (now_s, reading or None, target_c, heater) per tick, in order. above_target_c:
    how far the reading may pass the target (a law with an estimate of the water), never to
    the ceiling. max_per_h: the switching budget, cycles begun in any hour. A cycle cut by a
    missing reading may resume at once within Relay.RESUME_WITHIN_S, without a new cycle."""
    on_since = off_since = interrupted_s = None
    cycles: list[float] = []
    was_on = False
    for now, reading, target, on in ticks:
        if reading is None or reading >= min(target + above_target_c, ceiling_c):
            assert not on, f"heater on at {now} s with reading {reading} and target {target}"
        if on and not was_on:
            resumed = interrupted_s is not None and now - interrupted_s <= Relay.RESUME_WITHIN_S
            if off_since is not None and not resumed:
                assert now - off_since >= MIN_OFF_S - 1e-9, f"closed {now - off_since:.1f} s after opening"
            if not resumed:
                cycles.append(now)
                within_h = [t for t in cycles if now - t < 3600.0]
                assert len(within_h) <= max_per_h, f"{len(within_h)} cycles within the hour to {now} s"
            on_since, interrupted_s = now, None
        elif was_on and not on:
            if reading is not None and reading < min(target, ceiling_c):  # not a safety cut
                assert now - on_since >= MIN_ON_S - 1e-9, f"opened {now - on_since:.1f} s after closing"
            off_since = now
            interrupted_s = now if reading is None else None
        elif not on and reading is not None:
            interrupted_s = None  # the law looked again and chose not to resume
        was_on = on


def drive_each(controller, steps):
    """Tick the controller through the steps, yielding (now_s, reading, target_c, heater)."""
    now = 0.0
    for dt, reading, target in steps:
        now += dt
        on = controller.tick(now_s=now, water_c=reading, target_c=target)
        assert isinstance(on, bool)
        yield now, reading, target, on


def drive(controller, steps):
    return list(drive_each(controller, steps))


STEPS = st.lists(
    st.tuples(st.floats(0.2, 40.0), st.none() | st.floats(20.0, 45.0), st.sampled_from([37.0, 38.0, 40.0])),
    min_size=1, max_size=80)


@given(STEPS)
@settings(max_examples=200, deadline=None)
def test_bang_bang_keeps_the_rules_on_any_readings(steps):
    check_rules(drive(BangBang(0.3), steps))


@given(STEPS, st.sampled_from([CEILING_C, 38.5]))
@settings(max_examples=100, deadline=None)
def test_heater_control_keeps_the_rules_and_the_budget_on_any_readings(steps, ceiling_c):
    control = HeaterControl(ceiling_c=ceiling_c)
    ticks = []
    for tick in drive_each(control, steps):
        ticks.append(tick)
        if tick[3]:  # heating: its own estimate of the water is below the target and the ceiling
            assert control.estimate_c < min(tick[2], ceiling_c)
    check_rules(ticks, max_per_h=BUDGET_PER_H, above_target_c=ABOVE_TARGET_C, ceiling_c=ceiling_c)


@pytest.mark.parametrize("make", [lambda: BangBang(0.3), HeaterControl])
def test_a_missing_reading_opens_the_relay_at_once_even_inside_the_minimum_on_time(make):
    control = make()
    assert control.tick(now_s=0.0, water_c=30.0, target_c=38.0)
    assert control.tick(now_s=1.0, water_c=30.1, target_c=38.0)
    assert not control.tick(now_s=2.0, water_c=None, target_c=38.0)
    assert not control.tick(now_s=2.9, water_c=None, target_c=38.0)


@pytest.mark.parametrize("make, above_c", [(lambda: BangBang(0.3), 0.0), (HeaterControl, ABOVE_TARGET_C)])
def test_reaching_the_target_opens_the_relay_at_once(make, above_c):
    control = make()
    assert control.tick(now_s=0.0, water_c=37.0, target_c=40.0)
    assert not control.tick(now_s=1.0, water_c=37.0 + above_c, target_c=37.0)  # target lowered under it
    assert not control.tick(now_s=30.0, water_c=37.5 + above_c, target_c=37.0)


def test_the_law_stops_when_its_estimate_reaches_the_target_though_the_reading_is_below():
    control = HeaterControl()
    assert control.tick(now_s=0.0, water_c=37.0, target_c=40.0)
    assert control.estimate_c < 37.2
    assert not control.tick(now_s=1.0, water_c=37.0, target_c=control.estimate_c - 0.01)


def test_the_reading_is_kept_below_the_ceiling_as_the_supervisor_keeps_it():
    """At a 40 C target the ceiling, not the target + 0.3 C, is the reading's limit: a law that
    asked for heat up to 40.3 C was refused at every reading from 40.0 C on and chattered."""
    control = HeaterControl()
    assert control.tick(now_s=0.0, water_c=39.0, target_c=40.0)
    assert not control.tick(now_s=1.0, water_c=CEILING_C, target_c=40.0)  # inside the minimum on time
    lowered = HeaterControl(ceiling_c=38.5)  # the config may lower the ceiling
    assert lowered.tick(now_s=0.0, water_c=37.0, target_c=40.0)
    assert not lowered.tick(now_s=1.0, water_c=38.5, target_c=40.0)
    with pytest.raises(HardwareError, match="ceiling"):
        HeaterControl(ceiling_c=CEILING_C + 1)


def reading_of(bath: ThermalBath) -> float | None:
    return reading_from(bath.sensor_output(), bath.elapsed_s).water_c


def test_feet_going_in_bring_the_heat_at_once_between_the_paced_pulses():
    """The tap that starts the soak is a known disturbance at a known moment: the law heats at
    once (within the hour's budget) instead of waiting out the two minutes between pulses."""
    target_c, on = 38.0, False
    bath, control = ThermalBath(BathParams(), water_c=target_c, seed=2), HeaterControl()

    def step() -> bool:
        bath.step(bath.read_duration_s(), heater_on=on)
        return control.tick(now_s=bath.elapsed_s, water_c=reading_of(bath), target_c=target_c)

    while not (bath.elapsed_s > 600 and not on and control.relay.changed_s < bath.elapsed_s - MIN_OFF_S
               and bath.elapsed_s - control.relay.closed_s < 60):  # a pulse ended not long ago
        on = step()
    paced_s, tap_s = control.relay.closed_s + 3600 / BUDGET_PER_H, bath.elapsed_s
    bath.feet_in()
    control.feet_in(now_s=tap_s)
    while not on:  # at once, or as soon as its estimate of the water is below the target again
        on = step()
        assert control.estimate_c < target_c or not on
    assert bath.elapsed_s - tap_s < 5 and bath.elapsed_s < paced_s - 30
    lowest_c = bath.water_c
    while bath.elapsed_s < paced_s + 300:
        on = step()
        lowest_c = min(lowest_c, bath.water_c)
    assert lowest_c > target_c - 1.0 and abs(bath.water_c - target_c) < 0.3  # 500 W: 0.9 C at most


def test_a_warm_up_is_not_held_back_by_the_pulses_pacing():
    """Water found far below the target (a warm-up that stopped short, cold water added) is
    warmed again as soon as the relay's minimum off time allows."""
    control = HeaterControl()
    assert control.tick(now_s=0.0, water_c=37.0, target_c=38.0)
    t = 0.0
    while control.tick(now_s=t, water_c=37.0, target_c=38.0):  # its estimate reaches the target
        t += 1.0
    opened_s = t
    for _ in range(15):
        t += 1.0
        on = control.tick(now_s=t, water_c=34.0, target_c=38.0)  # a jug of cold water
    assert on and t - opened_s < 3600 / BUDGET_PER_H


def test_bang_bang_is_craftbeerpis_hysteresis():
    control = BangBang(0.3, min_on_s=0, min_off_s=0)
    readings = [37.8, 37.69, 37.8, 37.99, 38.0, 37.8, 37.71, 37.6]
    wanted = [False, True, True, True, False, False, False, True]
    assert [control.tick(now_s=i, water_c=r, target_c=38.0) for i, r in enumerate(readings)] == wanted


def test_the_relay_counts_closures_and_keeps_its_minimum_times_and_budget():
    relay = Relay(min_on_s=10, min_off_s=5, max_closures_per_h=2)
    assert relay.set(0, True)
    assert relay.set(5, False)  # held: minimum on time
    assert not relay.set(10, False)
    assert not relay.set(12, True)  # held: minimum off time
    assert relay.set(15, True)
    assert not relay.set(30, False)
    assert not relay.set(60, True)  # held: two cycles begun within the hour
    assert relay.set(3600, True)  # the first has left the hour
    assert not relay.set(3601, True, cut=True)
    assert relay.closures == 3


def test_an_interrupted_cycle_resumes_at_once_without_a_new_cycle_of_the_budget():
    relay = Relay(min_on_s=10, min_off_s=10, max_closures_per_h=1)
    assert relay.set(0, True)
    assert not relay.interrupt(5)  # a bad reading
    assert relay.set(6, True)  # back at once: neither the off time nor the budget holds it
    assert relay.closed_s == 0 and relay.closures == 2
    assert relay.set(12, False)  # its own on time counts from the resumption
    assert not relay.set(16, False)
    assert not relay.set(40, True)  # a new cycle waits for the budget as ever
    assert not relay.set(40 + Relay.RESUME_WITHIN_S, True)
    assert relay.set(3600, True)


def test_a_cut_by_the_laws_own_rule_or_a_long_interruption_gives_no_right_to_resume():
    relay = Relay(min_on_s=10, min_off_s=10, max_closures_per_h=1)
    relay.set(0, True)
    relay.set(5, False, cut=True)  # the reading reached the target
    assert not relay.set(20, True)
    relay = Relay(min_on_s=10, min_off_s=10, max_closures_per_h=1)
    relay.set(0, True)
    relay.interrupt(5)
    assert not relay.set(5 + Relay.RESUME_WITHIN_S + 1, True)
    relay = Relay(min_on_s=10, min_off_s=10, max_closures_per_h=1)
    relay.set(0, True)
    relay.interrupt(5)
    relay.set(6, False)  # the law no longer wants what was interrupted
    assert not relay.set(7, True)


@pytest.mark.parametrize("make", [lambda: BangBang(0.3), HeaterControl])
def test_heat_resumes_at_the_first_good_reading_after_a_glitch(make):
    control = make()
    assert control.tick(now_s=0.0, water_c=30.0, target_c=38.0)
    assert not control.tick(now_s=0.9, water_c=None, target_c=38.0)
    assert not control.tick(now_s=1.8, water_c=None, target_c=38.0)
    assert control.tick(now_s=2.7, water_c=30.1, target_c=38.0)


@pytest.mark.parametrize("make", [lambda: BangBang(0.3), HeaterControl])
def test_after_the_supervisors_veto_heat_resumes_once_it_is_lifted(make):
    control = make()
    assert control.tick(now_s=0.0, water_c=30.0, target_c=38.0)
    control.overruled(now_s=0.0)
    assert control.tick(now_s=0.9, water_c=30.0, target_c=38.0)


def test_time_running_backwards_and_nonsense_settings_are_refused():
    control = HeaterControl()
    control.tick(now_s=10.0, water_c=30.0, target_c=38.0)
    with pytest.raises(HardwareError, match="backwards"):
        control.tick(now_s=9.0, water_c=30.0, target_c=38.0)
    with pytest.raises(HardwareError, match="litres"):
        HeaterControl(litres=0)
    with pytest.raises(HardwareError, match="band"):
        BangBang(0.0)


# On the simulated bath: the benchmark's scenarios.

def run(scenario: Scenario, controller, seed: int = 0):
    trace = simulate(scenario, controller, seed=seed)
    return trace, measure(trace, scenario)


def heater_control(scenario: Scenario) -> HeaterControl:
    return HeaterControl(heater_w=scenario.params.heater_w, litres=scenario.params.litres)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_still_water_500w_overshoots_less_than_0_3_c(seed):
    scenario = SCENARIO["still_500w"]
    _, ours = run(scenario, heater_control(scenario), seed)
    assert ours["overshoot_c"] < 0.3


@pytest.mark.parametrize("seed", [0, 1])
def test_bang_bang_overshoots_as_calibrated(seed):
    _, theirs = run(SCENARIO["still_500w"], BangBang(0.3), seed)
    assert 1.1 < theirs["overshoot_c"] < 1.6
    assert theirs["hold_band_c"] > 1.5


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_heater_control_beats_bang_bang_side_by_side(scenario):
    trace, ours = run(scenario, heater_control(scenario))
    _, theirs = run(scenario, BangBang(0.3))
    assert ours["overshoot_c"] < min(0.3, theirs["overshoot_c"])
    assert ours["ready_s"] <= 1.10 * max(theirs["ready_s"], 1.0)
    assert ours["hold_rms_c"] < theirs["hold_rms_c"]
    assert ours["hold_rms_c"] < 0.35  # the target is 0.2: see bench.control.NOTE for still water
    assert ours["closures_per_h"] <= BUDGET_PER_H  # counted one less: see bench.control.closures_per_h
    # The rules held all along: no heat with the reading past the target's allowance.
    ticks = [(t, r, scenario.target_c, on)
             for t, r, on in zip(trace.t_s, trace.reading_c, trace.heater, strict=True)]
    check_rules(ticks, max_per_h=BUDGET_PER_H, above_target_c=ABOVE_TARGET_C)


def test_the_hold_stays_near_the_target_for_an_hour():
    scenario = Scenario("hour", "5 L still, an hour's hold", start_c=38.0, hold_s=3600.0)
    _, ours = run(scenario, heater_control(scenario), seed=4)
    assert ours["overshoot_c"] < 0.3
    assert -0.3 < ours["hold_mean_c"] < 0.0
    assert 20 <= ours["closures_per_h"] <= BUDGET_PER_H


@pytest.mark.parametrize(("params", "lowest_s", "highest_s"), [
    (BathParams(), 55.0, 100.0),
    (BathParams(stirred=True), 0.0, 30.0),
])
def test_it_learns_the_probes_lag(params, lowest_s, highest_s):
    scenario = Scenario("lag", "", params)
    control = heater_control(scenario)
    run(scenario, control)
    assert lowest_s <= control.lag_s <= highest_s


def test_it_learns_a_basin_filled_fuller_than_configured():
    scenario = Scenario("fuller", "8 L in a basin configured for 5 L", BathParams(litres=8.0))
    control = HeaterControl(heater_w=500.0, litres=5.0)
    _, ours = run(scenario, control)
    assert control.capacity_j_per_k / 4186 == pytest.approx(8.0, rel=0.2)
    assert ours["overshoot_c"] < 0.3


@pytest.mark.parametrize("params", [
    BathParams(loss_w_at_38=80.0), BathParams(loss_w_at_38=180.0), BathParams(room_c=15.0),
    BathParams(element_tau_s=10.0), BathParams(element_tau_s=30.0),
    BathParams(mixing_delay_s=60.0, probe_tau_s=40.0), BathParams(stirred=True, heater_w=300.0),
], ids=["loss80", "loss180", "room15", "element10", "element30", "lag100", "stirred300"])
def test_a_basin_unlike_the_reference_still_does_not_overshoot_much(params):
    """What the controller assumes (120 W at 38 C, a 20 s element) is not what this basin
    does: the learning must keep the overshoot small (0.5 C, against bang-bang's 1-2 C)."""
    for start_c in (30.0, 37.0):
        scenario = Scenario("unlike", "", params, start_c=start_c)
        _, ours = run(scenario, heater_control(scenario))
        assert ours["overshoot_c"] < 0.5
        assert ours["ready_s"] is not None


# Baths of the benchmark's sweep, wired as the controller wires the law (supervisor, session,
# feet tapped in a minute after Ready): still water at the 40 C ceiling, still and stirred
# water with feet, a small basin with a strong heater. None of them was tuned on.
SWEEP_BATHS = {8: "still, 40 C", 11: "stirred, feet", 18: "still, feet", 45: "4.4 L, 861 W"}


@pytest.fixture(scope="module")
def sweep_baths():
    return {row["index"]: row for row in sweep(jobs=1, indices=list(SWEEP_BATHS))["per_bath"]}


@pytest.mark.parametrize("index", SWEEP_BATHS, ids=SWEEP_BATHS.get)
def test_every_goal_is_met_on_chosen_baths_of_the_sweep(sweep_baths, index):
    law = sweep_baths[index]["controllers"]["heater_control"]
    missed = [goal for goal, met in law["goals_met"].items() if not met]
    assert not missed, (missed, law["figures"])
