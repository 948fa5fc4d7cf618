"""Test set-up shared by every test. The environment is fixed before anything is imported:
no window system, no kernel modules, mock GPIO pins, no Kivy config or logs written."""

import os
import tempfile

os.environ.update({
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_CONFIG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_NO_CONSOLELOG": "1",
    "KIVY_HOME": tempfile.mkdtemp(prefix="footbath-kivy-"),
    "SDL_VIDEODRIVER": "offscreen",
    "GPIOZERO_PIN_FACTORY": "mock",
    "W1THERMSENSOR_NO_KERNEL_MODULE": "1",
})
os.environ.pop("FOOTBATH_CONFIG", None)

from hypothesis import settings

# The property tests draw the same wide set of examples on every run, so `make test` passes or
# fails the same way each time (a draw that differs run to run made CI fail on a test-model
# slip the previous run never drew). HYPOTHESIS_PROFILE=explore draws new examples each run:
# run it now and then and fix what it finds.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def pytest_collection_modifyitems(items):
    """A test that opens the off-screen Kivy window (the `window` fixture) is a `ui` test."""
    import pytest

    for item in items:
        if "window" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ui)
