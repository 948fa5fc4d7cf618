"""The one error root of the routines package, and the located problem it carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file, pointing at the offending value (1-based line and column)."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


class RoutineError(ValueError):
    """Anything wrong with a routine, a YAML document or a session event.

    When the error comes from a file it carries every problem found, so staff can fix them
    all in one edit instead of one per attempt.
    """

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()):
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def from_problems(cls, problems) -> RoutineError:
        problems = tuple(sorted(problems))
        return cls("\n".join(str(p) for p in problems), problems)


class SessionError(RoutineError):
    """An event that makes no sense in the session's current phase."""
