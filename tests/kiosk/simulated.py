"""Driving a service on the simulated bath from a test, read by read."""

from kiosk.service import Service


def drive(service: Service, until, *, max_reads: int = 5000, confirm: bool = True) -> dict:
    """Step the simulated bath until `until(status)`; the customer answers each prompt."""
    for _ in range(max_reads):
        service.step_simulation()
        status = service.controller.status()
        if until(status):
            return status
        if confirm and status["session"] and status["session"]["waiting_for_tap"]:
            service.controller.handle("confirm", {})
    raise AssertionError(f"not reached in {max_reads} reads; last status: {status}")
