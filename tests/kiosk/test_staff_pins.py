"""Staff PINs: salted scrypt hashes in a 0600 file, never the PIN; wrong PINs rate-limited.

The real `PinStore` writes real files in a temp state dir; the guard's time is passed in.
"""

import json
import stat

import pytest

from kiosk.errors import KioskError
from kiosk.staff_pins import FILE_NAME, LOCKOUT_S, MAX_TRIES, PinGuard, PinStore, hash_pin, pin_matches

PIN = "73920518"  # eight digits: could not turn up in a base64 salt or digest by chance


@pytest.fixture
def store(tmp_path):
    return PinStore(tmp_path / "state")


def test_a_pin_is_set_verified_and_removed(store):
    assert store.names() == [] and store.who(PIN) is None  # no file yet: nobody
    store.set("anna", PIN)
    store.set("Ben K.", "4321")
    assert store.names() == ["Ben K.", "anna"]
    assert store.who(PIN) == "anna" and store.who("4321") == "Ben K."
    assert store.who("73920519") is None and store.who("") is None
    store.set("anna", "2468")  # changed: the old PIN no longer opens anything
    assert store.who(PIN) is None and store.who("2468") == "anna"
    store.remove("anna")
    assert store.names() == ["Ben K."] and store.who("2468") is None
    with pytest.raises(KioskError, match=r"no PIN for 'anna'; staff with PINs: Ben K\."):
        store.remove("anna")


def test_the_file_is_private_and_never_holds_the_pin(store):
    store.set("anna", PIN)
    path = store.path
    assert path.name == FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PIN not in text
    stored = json.loads(text)["anna"]
    scheme, n = stored.split("$")[:2]
    assert scheme == "scrypt" and int(n) >= 2**14  # a deliberately slow hash, not a fast digest
    assert not list(path.parent.glob(f".{FILE_NAME}.*"))  # no temp file left beside it


def test_each_hash_is_salted(store):
    first, second = hash_pin(PIN), hash_pin(PIN)
    assert first != second  # the same PIN twice gives two different records...
    assert first.split("$")[4] != second.split("$")[4]
    assert pin_matches(PIN, first) and pin_matches(PIN, second)  # ...that both verify
    assert not pin_matches("73920519", first)
    store.set("anna", PIN)
    store.set("ben", PIN)  # two staff who chose the same PIN cannot be told apart by the file
    records = json.loads(store.path.read_text())
    assert records["anna"] != records["ben"]


@pytest.mark.parametrize("stored", ["", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA",
                                    "scrypt$16384$8$1$!!!$AAAA", "scrypt$3$8$1$AAAA$AAAA"])
def test_a_damaged_record_matches_nothing(stored):
    assert pin_matches("1234", stored) is False


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", "12 34", " 1234", "1234\n", "١٢٣٤",
                                 "-123"])
def test_a_bad_pin_is_refused(store, pin):
    with pytest.raises(KioskError, match="a PIN is 4 to 8 digits"):
        store.set("anna", pin)
    assert not store.path.exists()


@pytest.mark.parametrize("name", ["", "1anna", " anna", "anna\n", "a" * 33, "anna/../x", "anna:1",
                                  "ännä"])
def test_a_bad_name_is_refused(store, name):
    with pytest.raises(KioskError, match="is not a staff name"):
        store.set(name, PIN)
    assert not store.path.exists()


@pytest.mark.parametrize("content", [b"not json", b"\xff\xfe{}", b"[1, 2]", b'{"anna": 5}'])
def test_a_damaged_file_is_reported_with_what_to_do(store, content):
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    with pytest.raises(KioskError, match="footbath pin set"):
        store.who(PIN)


def test_a_state_dir_that_cannot_be_used_is_reported_with_what_to_check(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state dir should be")
    store = PinStore(blocker)
    for action in (lambda: store.set("anna", PIN), lambda: store.who(PIN), store.names):
        with pytest.raises(KioskError, match=r"Not a directory; check paths\.state_dir and its permissions"):
            action()


# -- the rate limit ------------------------------------------------------------------------------

def test_five_wrong_pins_lock_every_pin_out_for_a_while():
    guard = PinGuard()
    for i in range(MAX_TRIES):
        guard.check_allowed(100.0 + i)
        guard.record(False, 100.0 + i)
    locked_at = 100.0 + MAX_TRIES - 1
    with pytest.raises(KioskError, match=rf"too many wrong PINs; try again in {int(LOCKOUT_S)} s"):
        guard.check_allowed(locked_at)
    with pytest.raises(KioskError, match="try again in 1 s"):
        guard.check_allowed(locked_at + LOCKOUT_S - 0.5)
    guard.check_allowed(locked_at + LOCKOUT_S)  # the lockout is over...
    guard.record(False, locked_at + LOCKOUT_S)
    guard.check_allowed(locked_at + LOCKOUT_S + 1)  # ...and counting starts again from zero


def test_a_right_pin_clears_the_count():
    guard = PinGuard()
    for i in range(MAX_TRIES - 1):
        guard.record(False, float(i))
    guard.record(True, 10.0)
    for i in range(MAX_TRIES - 1):
        guard.record(False, 11.0 + i)
    guard.check_allowed(20.0)


def test_wrong_pins_spread_over_more_than_the_window_never_lock():
    guard = PinGuard()
    for i in range(3 * MAX_TRIES):
        now_s = i * (LOCKOUT_S / (MAX_TRIES - 1) + 0.1)  # never five inside one window
        guard.check_allowed(now_s)
        guard.record(False, now_s)
    guard.check_allowed(1e6)
