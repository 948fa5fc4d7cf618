"""Fixtures for the hardware tests: a fake 1-Wire bus in a temp dir and a clock the test owns."""

import itertools

import pytest

from hardware.w1file import SimulatedBus


@pytest.fixture
def w1_bus(tmp_path):
    """An empty fake bus laid out as /sys/bus/w1/devices; `w1_bus.show(...)` puts a sensor on it."""
    return SimulatedBus(tmp_path / "devices")


@pytest.fixture
def step_clock():
    """A clock that says 100.0, 101.0, 102.0, ... one step per call: readings carry known times."""
    return itertools.count(100.0, 1.0).__next__
