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
