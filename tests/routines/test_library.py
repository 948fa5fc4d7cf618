"""The routines on offer (issue 2, section 2): shipped ones, local files, overrides and problems.

Real files in a temporary routines dir; a bad file is reported and never raises.
"""

import os
from pathlib import Path

import pytest

from routines.errors import RoutineError
from routines.library import LOCAL, SHIPPED, Entry, Library, load_library, local_files, shipped_documents
from routines.yamldoc import MAX_BYTES

SHIPPED_IDS = ["classic", "evening", "gentle", "quick"]


def routine_text(rid: str, name: str = "Local routine", target_c: float = 38.0) -> str:
    return (f"id: {rid}\nname: {name}\ndescription: A test routine.\n"
            f"soak:\n  target_c: {target_c}\n  duration_s: 300\n"
            "steps:\n  - title: Rest\n    say: Sit back and breathe.\n    duration_s: 30\n")


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def test_the_shipped_routines_load_with_no_problems():
    library = load_library(None)
    assert library.problems == ()
    assert list(library.entries) == SHIPPED_IDS
    assert all(e.source == SHIPPED and e.file == f"{e.routine.id}.yaml" for e in library)
    assert library.get("classic").name == "Classic soak and massage"


def test_a_missing_or_empty_routines_dir_is_fine(tmp_path):
    for folder in (tmp_path / "nowhere", tmp_path, write(tmp_path, "not-a-dir", "")):
        library = load_library(folder)
        assert (list(library.entries), library.problems) == (SHIPPED_IDS, ())


def test_a_local_file_adds_a_routine(tmp_path):
    path = write(tmp_path, "morning.yml", routine_text("morning"))
    library = load_library(tmp_path)
    assert library.problems == ()
    assert library.entries["morning"] == Entry(library.get("morning"), LOCAL, str(path))
    assert list(library.entries) == [*SHIPPED_IDS, "morning"]


def test_a_local_file_overrides_a_shipped_routine_with_the_same_id(tmp_path):
    path = write(tmp_path, "my-classic.yaml", routine_text("classic", name="House classic"))
    library = load_library(tmp_path)
    assert library.problems == ()
    entry = library.entries["classic"]
    assert (entry.source, entry.file, entry.routine.name) == (LOCAL, str(path), "House classic")
    assert list(library.entries) == SHIPPED_IDS  # same place in the list
    assert library.entries["quick"].source == SHIPPED


def test_a_bad_local_file_is_kept_out_and_its_problems_listed(tmp_path):
    path = write(tmp_path, "broken.yaml", routine_text("broken").replace("duration_s: 300", "duration_s: 5"))
    library = load_library(tmp_path)
    assert "broken" not in library.entries
    assert [str(p) for p in library.problems] == [
        f"{path}:6:15: soak.duration_s: 5 is out of range; allowed: a whole number from 60 to 1800 s"]


def test_a_bad_override_leaves_the_shipped_routine_in_place(tmp_path):
    path = write(tmp_path, "classic.yaml", routine_text("classic", target_c=45.0))
    library = load_library(tmp_path)
    assert library.entries["classic"].source == SHIPPED
    assert [str(p) for p in library.problems] == [
        f"{path}:5:13: soak.target_c: 45.0 is out of range; allowed: a number from 30.0 to 40.0 C"]


def test_a_good_version_from_the_same_file_stays_while_the_file_is_broken(tmp_path):
    path = write(tmp_path, "morning.yaml", routine_text("morning", name="Morning"))
    good = load_library(tmp_path)
    write(tmp_path, "morning.yaml", routine_text("morning", name="Morning") + "  oops: [\n")
    library = load_library(tmp_path, previous=good)
    assert library.entries["morning"] is good.entries["morning"]
    assert len(library.problems) == 1 and library.problems[0].file == str(path)
    # Without `previous` (a fresh start) the broken file offers nothing.
    assert "morning" not in load_library(tmp_path).entries
    # Fixed again: the new version replaces the kept one.
    write(tmp_path, "morning.yaml", routine_text("morning", name="Morning, fixed"))
    assert load_library(tmp_path, previous=library).get("morning").name == "Morning, fixed"
    # Deleted: gone, whatever was loaded before.
    path.unlink()
    assert "morning" not in load_library(tmp_path, previous=good).entries


def test_a_kept_version_is_only_kept_for_its_own_file(tmp_path):
    write(tmp_path, "a.yaml", routine_text("morning"))
    good = load_library(tmp_path)
    (tmp_path / "a.yaml").unlink()
    write(tmp_path, "b.yaml", "id: [\n")
    library = load_library(tmp_path, previous=good)
    assert "morning" not in library.entries
    assert [p.file for p in library.problems] == [str(tmp_path / "b.yaml")]


def test_a_shipped_routine_is_never_kept_from_a_previous_load(tmp_path):
    good = load_library(tmp_path)
    library = load_library(tmp_path, ceiling_c=37.0, previous=good)
    assert list(library.entries) == ["gentle"]


def test_a_kept_version_above_a_lowered_ceiling_is_dropped(tmp_path):
    write(tmp_path, "warm.yaml", routine_text("warm", target_c=39.0))
    good = load_library(tmp_path)
    write(tmp_path, "warm.yaml", "id: [\n")
    assert "warm" in load_library(tmp_path, previous=good).entries
    assert "warm" not in load_library(tmp_path, ceiling_c=38.0, previous=good).entries


def test_two_local_files_with_one_id_refuse_the_second_at_its_id(tmp_path):
    write(tmp_path, "a.yaml", routine_text("morning", name="First"))
    second = write(tmp_path, "b.yaml", "# the same, copied\n" + routine_text("morning", name="Second"))
    library = load_library(tmp_path)
    assert library.get("morning").name == "First"
    assert [str(p) for p in library.problems] == [
        f"{second}:2:5: id: 'morning' is also the id of a.yaml; give each routine its own id"]


def test_a_kept_version_still_claims_its_id(tmp_path):
    write(tmp_path, "a.yaml", routine_text("morning", name="First"))
    good = load_library(tmp_path)
    write(tmp_path, "a.yaml", "id: [\n")
    write(tmp_path, "b.yaml", routine_text("morning", name="Second"))
    library = load_library(tmp_path, previous=good)
    assert library.get("morning").name == "First"
    assert [(p.file, p.line, p.col, p.path) for p in library.problems] == [
        (str(tmp_path / "a.yaml"), 2, 1, "(file)"), (str(tmp_path / "b.yaml"), 1, 5, "id")]


def test_backups_dotfiles_and_other_files_are_ignored(tmp_path):
    for name in ("classic.yaml.bak", "classic.yaml~", ".classic.yaml.swp", ".hidden.yaml", "#classic.yaml#",
                 "notes.txt", "README"):
        write(tmp_path, name, "id: [broken\n")
    (tmp_path / "folder.yaml").mkdir()
    assert local_files(tmp_path) == []
    library = load_library(tmp_path)
    assert (list(library.entries), library.problems) == (SHIPPED_IDS, ())


def test_local_files_are_read_in_name_order(tmp_path):
    for name in ("b.yml", "a.yaml", "c.yaml"):
        write(tmp_path, name, "")
    assert [p.name for p in local_files(tmp_path)] == ["a.yaml", "b.yml", "c.yaml"]
    assert local_files(None) == []


def test_binary_and_oversized_local_files_are_problems_not_crashes(tmp_path):
    binary = write(tmp_path, "photo.yaml", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(1 << 40)  # a sparse terabyte: reading it all would never finish
    library = load_library(tmp_path)
    assert list(library.entries) == SHIPPED_IDS
    assert [str(p) for p in library.problems] == [
        f"{huge}:1:1: (file): file is {1 << 40} bytes; at most {MAX_BYTES} bytes are allowed",
        f"{binary}:1:1: (file): not UTF-8 text (a binary file?); save it as UTF-8 text",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_a_problem(tmp_path):
    path = write(tmp_path, "secret.yaml", routine_text("secret"))
    path.chmod(0)
    library = load_library(tmp_path)
    assert "secret" not in library.entries
    assert [str(p) for p in library.problems] == [
        f"{path}:1:1: (file): cannot read: Permission denied; check its permissions"]


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_is_a_problem_even_for_root(tmp_path):
    # /proc/self/mem is a regular file that fails with EIO when read from its start, for
    # any user: a real read error without permissions.
    good_text = routine_text("morning")
    write(tmp_path, "morning.yaml", good_text)
    good = load_library(tmp_path)
    (tmp_path / "morning.yaml").unlink()
    (tmp_path / "morning.yaml").symlink_to("/proc/self/mem")
    library = load_library(tmp_path, previous=good)
    assert [str(p) for p in library.problems] == [
        f"{tmp_path / 'morning.yaml'}:1:1: (file): cannot read: Input/output error; check its permissions"]
    assert library.entries["morning"] is good.entries["morning"]  # like any other broken file


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists directories whatever their mode")
def test_an_unreadable_routines_dir_is_a_problem(tmp_path):
    folder = tmp_path / "routines"
    folder.mkdir()
    write(folder, "morning.yaml", routine_text("morning"))
    folder.chmod(0)
    try:
        library = load_library(folder)
    finally:
        folder.chmod(0o755)
    assert list(library.entries) == SHIPPED_IDS
    assert [str(p) for p in library.problems] == [
        f"{folder}:1:1: (file): cannot read the routines dir: Permission denied; check the path and its "
        "permissions"]


def test_a_routines_dir_the_system_refuses_is_a_problem_even_for_root(tmp_path):
    folder = tmp_path / ("x" * 300)  # longer than any file name may be
    library = load_library(folder)
    assert list(library.entries) == SHIPPED_IDS
    assert [str(p) for p in library.problems] == [
        f"{folder}:1:1: (file): cannot read the routines dir: File name too long; check the path and its "
        "permissions"]


def test_a_lowered_ceiling_refuses_shipped_routines_above_it():
    library = load_library(None, ceiling_c=38.0)
    assert list(library.entries) == ["classic", "gentle", "quick"]  # evening is 38.5 C
    assert [str(p) for p in library.problems] == [
        "evening.yaml:6:13: soak.target_c: 38.5 is out of range; allowed: a number from 30.0 to 38.0 C"]


def test_a_raised_ceiling_is_still_40(tmp_path):
    path = write(tmp_path, "hot.yaml", routine_text("hot", target_c=41.0))
    library = load_library(tmp_path, ceiling_c=50.0)
    assert "hot" not in library.entries
    assert [str(p) for p in library.problems] == [
        f"{path}:5:13: soak.target_c: 41.0 is out of range; allowed: a number from 30.0 to 40.0 C"]


def test_get_names_the_known_routines():
    library = load_library(None)
    with pytest.raises(RoutineError) as caught:
        library.get("nope")
    assert str(caught.value) == "no routine 'nope'; known routines: classic, evening, gentle, quick"
    with pytest.raises(RoutineError) as caught:
        Library({}).get("x")
    assert str(caught.value) == "no routine 'x'; known routines: none"


def test_shipped_documents_are_the_package_data():
    names = [name for name, _ in shipped_documents()]
    assert names == sorted(names) == [f"{rid}.yaml" for rid in SHIPPED_IDS]
    folder = Path(__file__).resolve().parents[2] / "routines" / "shipped"
    assert dict(shipped_documents()) == {p.name: p.read_bytes() for p in folder.glob("*.yaml")}
