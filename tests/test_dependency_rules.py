"""DESIGN.md section 2: which package may import what, and nothing happens at import time.

Each package is imported in a fresh interpreter and the modules it pulled in are compared
with what a bare interpreter already has loaded.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes  # each module imported in a fresh interpreter

ROOT = Path(__file__).resolve().parents[1]
IO_MODULES = {"socket", "threading", "_thread", "selectors", "asyncio", "subprocess", "sqlite3"}
HARDWARE_LIBS = {"gpiozero", "w1thermsensor", "lgpio", "RPi", "pigpio"}
UI_LIBS = {"kivy"}
OURS = {"routines", "hardware", "kiosk"}

PROBE = """
import json, sys
before = set(sys.modules)
import {module}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def imported_by(module: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in json.loads(out)}


def modules_of(package: str) -> list[str]:
    folder = ROOT / package
    names = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", modules_of("routines"))
def test_routines_is_pure(module):
    loaded = imported_by(module)
    assert not loaded & (IO_MODULES | HARDWARE_LIBS | UI_LIBS), module
    assert not loaded & (OURS - {"routines"}), module


def test_routines_never_reads_the_clock():
    """Time is an argument: no module of routines/ may call the wall clock or sleep."""
    offenders = []
    for path in (ROOT / "routines").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("time", "datetime") for n in names):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders


@pytest.mark.parametrize("module", modules_of("hardware"))
def test_hardware_imports_no_ui_and_nothing_of_kiosk(module):
    loaded = imported_by(module)
    assert not loaded & UI_LIBS, module
    assert "kiosk" not in loaded, module


@pytest.mark.parametrize("module", [m for m in modules_of("kiosk") if not m.startswith("kiosk.ui")])
def test_only_the_ui_imports_kivy(module):
    assert not imported_by(module) & UI_LIBS, module


@pytest.mark.parametrize("module", modules_of("hardware") + modules_of("kiosk"))
def test_no_modprobe_at_import_time(module):
    """w1thermsensor runs modprobe when imported: it must load lazily, inside the adapter."""
    assert "w1thermsensor" not in imported_by(module), module


# The off-screen rig and the screenshot tool run a real controller beside the app on purpose
# (they are test and documentation tools); the app's own modules never reach the bath directly.
RIGS = {"kiosk.ui.harness", "kiosk.ui.screenshots"}


@pytest.mark.parametrize("module", [m for m in modules_of("kiosk")
                                    if m.startswith("kiosk.ui") and m not in RIGS])
def test_ui_never_imports_hardware(module):
    """The touchscreen sees the bath only through the API client."""
    assert "hardware" not in imported_by(module), module


def test_the_touchscreen_app_loads_neither_routines_nor_yaml():
    """The kiosk process stays small (bench.ui measures it): routines and YAML are the
    controller's business, and the app gets routines from the API already parsed."""
    pulled_in = imported_by("kiosk.ui.app")
    assert not pulled_in & {"routines", "yaml"}, pulled_in & {"routines", "yaml"}
