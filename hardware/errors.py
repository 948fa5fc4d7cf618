"""The one error root of the hardware package."""


class HardwareError(RuntimeError):
    """A device that cannot be used; the message says what to check."""
