"""Drill 4 of the system tests: a session on real kernel GPIO. The installed controller drives
the gpio-sim chip through lgpio, reads the fake 1-Wire bus with the real w1thermsensor code and
takes its session through the API socket, as the kiosk sends it.

At 30 C a started session closes the heater line; a reading of 41.5 C opens it within one
reading and latches the over-temperature fault; in a new session the STOP button, pulled low
on its line as a press does, takes every output low. Times are taken in the guest
(drill_guest.py), on its monotonic clock."""

from hardware.thermometer import CONVERSION_S
from hardware.w1file import w1_slave
from tests.system.bath import Bath
from tests.system.installed import OUTPUTS, STOP_PIN, W1_SLAVE

HOT_C = 41.5


def test_drill_4_heat_at_30_c_overheat_at_41_5_c_and_the_stop_button(installed_vm, figures):
    bath = Bath(installed_vm)
    bath.restart()
    assert bath.lines() == dict.fromkeys(OUTPUTS, 0), "an output is high before any session"
    assert bath.status()["phase"] == "idle"

    # 30 C and a session: the heater line goes high (and the safety relay's before it).
    asked = installed_vm.uptime_s()
    bath.start_heating()
    heating_s = installed_vm.uptime_s() - asked
    lines = bath.lines()
    assert lines["heater"] == 1 and lines["safety_relay"] == 1, lines

    # 41.5 C: the heater line low by the time the controller publishes the hot reading (it
    # drives the outputs first), and within one reading of the write.
    heater = bath.value_path(OUTPUTS["heater"])
    hot = bath.drill("overheat", W1_SLAVE, heater, "--hot-c", str(HOT_C), input=w1_slave(HOT_C))
    assert hot["heater_before"] == 1, hot
    snapshot = hot["hot_snapshot"]
    assert snapshot["line"] == 0 and snapshot["heater"] is False, hot
    assert "overheat" in [f["code"] for f in snapshot["faults"]], hot
    low_after_s = hot["low_at"] - hot["written_at"]
    published_after_s = snapshot["at"] - hot["written_at"]
    # One reading: the reader takes one every CONVERSION_S (as a DS18B20's conversion) and
    # the loop acts on it at once. Under TCG a reading's parse and the loop take a few tenths.
    assert low_after_s <= CONVERSION_S + 2.0, hot
    status = bath.status()
    assert [f["code"] for f in status["faults"]] == ["overheat"], status["faults"]
    assert bath.lines() == dict.fromkeys(OUTPUTS, 0)
    # Latched: the water cools, and nothing heats until a person clears the fault.
    bath.set_water(30.0)
    assert bath.drill("sample", "3", heater)["highest"][heater] == 0
    refused = bath.request("start", routine="classic")
    assert not refused["ok"] and "fault" in refused["error"]["message"], refused

    # A new controller, a new session; STOP pulled: every output low.
    bath.restart()
    bath.start_heating()
    before = bath.lines()
    assert before["heater"] == 1, before
    pull = f"{bath.sim}/sim_gpio{STOP_PIN}/pull"
    stop = bath.drill("stop", pull, *bath.output_paths())
    try:
        assert bath.lines() == dict.fromkeys(OUTPUTS, 0)
        status = bath.status()
        assert status["heater"] is False and status["stop_pressed"] is True, status
        # Held down, the button refuses a new session.
        refused = bath.request("start", routine="classic")
        assert not refused["ok"] and "STOP" in refused["error"]["message"], refused
    finally:
        bath.release_stop()

    high = [name for name, v in before.items() if v]
    figures.append(f"drill 4 session: start+confirm to the heater line high {heating_s:.1f} s (guest, "
                   f"through the socket); 41.5 C written to the heater line low {low_after_s * 1000:.0f} ms "
                   f"(reading period {CONVERSION_S} s), hot snapshot published "
                   f"{published_after_s * 1000:.0f} ms with the line already low, fault "
                   f"{snapshot['faults'][0]['code']} latched")
    figures.append(f"drill 4 STOP: pulled with {', '.join(high)} high: every output low "
                   f"{stop['all_low_after_s'] * 1000:.0f} ms after the pull (guest clock)")
