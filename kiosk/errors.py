"""The one error root of the kiosk package."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the touchscreen imports this module, and has no use for routines or YAML
    from routines import RoutineError


class KioskError(RuntimeError):
    """Something the service, the API, the journal or the command line cannot do."""


class ConfigError(KioskError, ValueError):
    """A config file that cannot be used; `problems` locates each one (FILE:LINE:COL)."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def from_problems(cls, problems) -> ConfigError:
        problems = tuple(sorted(problems))
        return cls("\n".join(str(p) for p in problems), problems)

    @classmethod
    def from_routine_error(cls, exc: RoutineError) -> ConfigError:
        return cls(str(exc), exc.problems)
