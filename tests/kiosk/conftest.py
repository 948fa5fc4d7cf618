import pytest

from tests.kiosk.baths import Baths


@pytest.fixture
def make_bath(tmp_path):
    """make_bath(extra_yaml, water_c=..., staff=...) -> a Bath (tests/kiosk/baths.py), closed
    when the test ends."""
    with Baths(tmp_path) as make:
        yield make
