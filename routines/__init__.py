"""Routines: the routine model, its YAML format and the session runner. Pure: no I/O but reading files."""

from .errors import Problem, RoutineError, SessionError
from .library import LOCAL, SHIPPED, Entry, Library, load_library
from .model import CEILING_C, Routine, Soak, Step, format_duration
from .runner import GENTLE, PHASES, PROFILES, STANDARD, Session, Snapshot
from .schema import parse_routine

__all__ = [
    "CEILING_C", "GENTLE", "LOCAL", "PHASES", "PROFILES", "SHIPPED", "STANDARD",
    "Entry", "Library", "Problem", "Routine", "RoutineError", "Session", "SessionError",
    "Snapshot", "Soak", "Step", "format_duration", "load_library", "parse_routine",
]
