"""Reading hand-edited and hostile YAML (issue 2, section 3): positions, refusals, `Checker`.

Every refusal is a `RoutineError` whose problems say FILE:LINE:COL exactly; nothing else may
escape, nothing may be constructed from a tag, and no input may take long.
"""

import pytest

from routines.errors import Problem, RoutineError
from routines.yamldoc import DOCUMENT, MAX_BYTES, MAX_DEPTH, MAX_NODES, Checker, Node, describe_value, parse

F = "r.yaml"


def problems(data) -> list[str]:
    with pytest.raises(RoutineError) as caught:
        parse(data, F)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


def value(root: Node, *keys):
    node = root
    for key in keys:
        node = node.items[key] if isinstance(key, int) else node.entries[key][1]
    return node


# --- positions -------------------------------------------------------------------------------

NESTED = """\
id: classic
soak:
  target_c: 38.5
steps:
  - title: Dry
    say: "Pat them dry."
  - {title: Rest, reps: 3}
"""


def test_every_key_and_value_keeps_its_line_and_column():
    root = parse(NESTED, F)
    assert (root.kind, root.line, root.col) == ("map", 1, 1)
    key, val = root.entries["soak"][1].entries["target_c"]
    assert (key.line, key.col, key.value) == (3, 3, "target_c")
    assert (val.line, val.col, val.value) == (3, 13, 38.5)
    steps = value(root, "steps")
    assert (steps.kind, steps.line, steps.col) == ("seq", 5, 3)
    assert (value(root, "steps", 0).line, value(root, "steps", 0).col) == (5, 5)
    say = value(root, "steps", 0, "say")
    assert (say.line, say.col, say.value) == (6, 10, "Pat them dry.")
    reps = value(root, "steps", 1, "reps")
    assert (reps.line, reps.col, reps.value) == (7, 25, 3)


def test_bom_and_crlf_keep_positions_right():
    plain = parse(NESTED, F)
    for data in (b"\xef\xbb\xbf" + NESTED.encode(), NESTED.replace("\n", "\r\n").encode(),
                 b"\xef\xbb\xbf" + NESTED.replace("\n", "\r\n").encode(), NESTED.replace("\n", "\r")):
        assert parse(data, F) == plain
    assert problems(b"\xef\xbb\xbfa: 1\r\nb: [\r\n") == [
        f"{F}:3:1: (file): not valid YAML: expected the node content, but found '<stream end>' "
        "while parsing a flow node; check the indentation and quoting here"]


def test_unicode_line_separators_do_not_move_the_lines_an_editor_shows():
    # PyYAML breaks lines at NEL and U+2028/9; an editor shows one line, and so do we.
    root = parse("say: one\u2028two\x85three\nid: 12\n", F)
    assert value(root, "say").value == "one two three"
    assert (value(root, "id").line, value(root, "id").col) == (2, 5)


def test_text_and_numbers_are_read_as_written():
    root = parse("a: 38\nb: 38.5\nc: '38'\nd: yes\ne: ~\nf: 2024-05-01\ng: =\nh: <<\ni: 0x_\nj: 10:00\n"
                 "k: |\n  two\n  lines\n", F)
    assert [value(root, k).value for k in "abcdefghijk"] == [
        38, 38.5, "38", True, None, "2024-05-01", "=", "<<", "0x_", 600, "two\nlines\n"]


def test_an_empty_file_is_an_empty_mapping_and_a_null_file_is_null():
    for data in ("", "# only a comment\n", b"\xef\xbb\xbf"):
        assert parse(data, F) == Node("map", 1, 1)
    assert parse("~\n", F) == Node("scalar", 1, 1, None)
    assert parse("---\n", F) == Node("scalar", 2, 1, None)


# --- broken or hostile files ------------------------------------------------------------------

def test_size_limit():
    at_limit = b"#" * (MAX_BYTES - 7) + b"\nid: x\n"
    assert len(at_limit) == MAX_BYTES
    assert value(parse(at_limit, F), "id").value == "x"
    assert problems(at_limit + b" ") == [
        f"{F}:1:1: (file): file is {MAX_BYTES + 1} bytes; at most {MAX_BYTES} bytes are allowed"]


@pytest.mark.parametrize(("data", "expected"), [
    (b"a: 1\nb: caf\xe9\n", "2:7: (file): not UTF-8 text (a binary file?); save it as UTF-8 text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "1:1: (file): not UTF-8 text (a binary file?); save it as UTF-8 text"),
    (b"\xef\xbb\xbfname: Caf\xc3\xa9 \xe2\x82\xac\r\nsay: \xc3\xa9\xe2\x82",
     "2:7: (file): not UTF-8 text (a binary file?); save it as UTF-8 text"),
    (b"a: 1\rb: \xc3\xa9\xff", "2:5: (file): not UTF-8 text (a binary file?); save it as UTF-8 text"),
    (b"a: 1\nb: x\x00y\n", "2:5: (file): control character '\\x00' (a binary file?); only text is allowed"),
    (b"\xef\xbb\xbfa: \x1b[31m\n",
     "1:4: (file): control character '\\x1b' (a binary file?); only text is allowed"),
    (b"a: 1\r\n  \x7f\r\n", "2:3: (file): control character '\\x7f' (a binary file?); only text is allowed"),
    ("a: \ud800\n", "1:4: (file): not UTF-8 text (a binary file?); save it as UTF-8 text"),
])
def test_binary_junk_is_refused_where_it_starts(data, expected):
    assert problems(data) == [f"{F}:{expected}"]


@pytest.mark.parametrize(("text", "expected"), [
    ("soak:\n\ttarget_c: 38\n", "2:1: (file): tab character in the indentation; indent with spaces, "
                               "never tabs"),
    ("soak:\n  target_c:\t38\n", "2:12: (file): tab character in the indentation; indent with spaces, "
                                 "never tabs"),
    ("a: 1\n---\nb: 2\n", "2:1: (file): more than one YAML document; one document per file"),
    ("a: 1\n...\n---\na: 1\n", "3:1: (file): more than one YAML document; one document per file"),
    ("a: b: c\n", "1:5: (file): not valid YAML: mapping values are not allowed here; "
                  "check the indentation and quoting here"),
    ("a: 'open\n", "2:1: (file): not valid YAML: found unexpected end of stream while scanning a "
                   "quoted scalar; check the indentation and quoting here"),
    ("a: 1\n b: 2\n", "2:3: (file): not valid YAML: mapping values are not allowed here; "
                      "check the indentation and quoting here"),
    ("a: *nothing\n", "1:4: (file): not valid YAML: found undefined alias 'nothing'; "
                      "check the indentation and quoting here"),
    ("a: &x 1\nb: &x 2\n", "2:4: (file): anchor 'x' is defined twice (first at line 1); "
                           "give each anchor its own name"),
])
def test_invalid_yaml_is_located(text, expected):
    assert problems(text) == [f"{F}:{expected}"]


def test_duplicate_keys_are_refused_at_the_second_one():
    assert problems("id: a\nsoak:\n  target_c: 38\n  target_c: 39\nid: b\n") == [
        f"{F}:4:3: (file): duplicate key 'target_c' (first at line 3); give each key once",
        f"{F}:5:1: (file): duplicate key 'id' (first at line 1); give each key once",
    ]


@pytest.mark.parametrize(("text", "col", "shown"), [
    ("1: x\n", 1, "1"), ("1.5: x\n", 1, "1.5"), ("null: x\n", 1, "empty"), ("~: x\n", 1, "empty"),
    ("yes: x\n", 1, "true"), ("[a]: x\n", 1, "a list"), ("? [a, b]\n: x\n", 3, "a list"),
    ("{a: 1}: x\n", 1, "a mapping"), ("? {a: 1}\n: x\n", 3, "a mapping"),
])
def test_keys_must_be_text(text, col, shown):
    assert problems(text) == [
        f"{F}:1:{col}: (file): key {shown} is not text; keys are plain words like target_c"]


def test_text_keys_that_look_like_dates_are_text():
    assert list(parse("2024-01-01: x\n'1': y\n", F).entries) == ["2024-01-01", "1"]


@pytest.mark.processes
def test_python_object_tags_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    attacks = [
        f"!!python/object/apply:os.system ['touch {marker}']\n",
        f"id: !!python/object/apply:os.system ['touch {marker}']\n",
        f"id: !!python/object/apply:subprocess.call [[touch, {marker}]]\n",
        f"id: !!python/object/new:subprocess.Popen [[touch, {marker}]]\n",
        f"? !!python/object/apply:os.system ['touch {marker}']\n: 1\n",
        "id: !!python/name:os.system\n",
        "id: !!python/module:os\n",
        "steps: [1, !!python/object:collections.OrderedDict {}]\n",
        f"id: !<tag:yaml.org,2002:python/object/apply:os.system> ['touch {marker}']\n",
    ]
    for text in attacks:
        found = problems(text)
        assert len(found) == 1, text
        assert "is not allowed; write plain values without tags" in found[0], text
    assert not marker.exists()
    assert problems(attacks[1]) == [
        f"{F}:1:5: (file): tag !!python/object/apply:os.system is not allowed; write plain values "
        "without tags"]


@pytest.mark.parametrize(("text", "tag"), [
    ("a: !!binary aGk=\n", "!!binary"), ("a: !!set {x, y}\n", "!!set"), ("a: !!omap [x: 1]\n", "!!omap"),
    ("a: !!int abc\n", "!!int"), ("a: !!float abc\n", "!!float"), ("a: !!bool abc\n", "!!bool"),
    ("a: !!map abc\n", "!!map"), ("a: !!seq abc\n", "!!seq"), ("a: !!timestamp 2024-13-45\n", "!!timestamp"),
    ("a: !!null x\n", "!!null"), ("a: !local x\n", "!local"), ("a: ! 12\n", "!"),
    ("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", "tag:example.com,2000:x"),
])
def test_every_explicit_tag_is_refused(text, tag):
    line = text.count("\n")
    assert problems(text) == [
        f"{F}:{line}:4: (file): tag {tag} is not allowed; write plain values without tags"]


def test_a_str_tag_is_refused_with_a_hint_to_quote():
    assert problems("a: !!str 12\n") == [
        f"{F}:1:4: (file): tag !!str is not allowed; write plain values without tags "
        "(put text that looks like a number in quotes)"]


def test_merge_keys_are_refused():
    assert problems("base: &b {target_c: 38}\nsoak:\n  <<: *b\n  duration_s: 600\n") == [
        f"{F}:3:3: (file): merge keys (<<) are not supported; write the keys out"]
    assert list(parse("'<<': 1\n", F).entries) == ["<<"]  # quoted, it is an ordinary (unknown) key


def test_billion_laughs_is_refused_quickly():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    found = problems("\n".join(lines) + "\n")
    assert len(found) == 1
    assert found[0].endswith(f"(file): document expands to more than {MAX_NODES} values (an alias bomb?); "
                             "write values out instead of repeating aliases")


def test_a_few_aliases_are_fine():
    root = parse("a: &x [1, 2]\nb: *x\n", F)
    assert value(root, "b") == value(root, "a")


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "&a {x: *a}\n", "a: &a {b: [*a]}\n"])
def test_a_recursive_alias_is_refused(text):
    found = problems(text)
    assert len(found) == 1
    assert found[0].endswith(f"(file): nested too deeply; at most {MAX_DEPTH} levels are allowed")


def test_absurd_nesting_is_refused_at_the_first_value_too_deep():
    too_deep = f"nested too deeply; at most {MAX_DEPTH} levels are allowed"
    assert problems("[" * 50_000) == [f"{F}:1:{MAX_DEPTH + 2}: (file): {too_deep}"]
    block = "".join(" " * i + "- \n" for i in range(MAX_DEPTH + 5))
    assert problems(block) == [f"{F}:{MAX_DEPTH + 2}:{MAX_DEPTH + 2}: (file): {too_deep}"]
    # Exactly the limit is fine.
    assert parse("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH, F).kind == "seq"


def test_an_alias_cannot_smuggle_in_deep_nesting():
    half = MAX_DEPTH // 2 + 2
    text = "a: &d " + "[" * half + "]" * half + "\nb: " + "[" * half + "*d" + "]" * half + "\n"
    found = problems(text)
    assert len(found) == 1 and found[0].endswith("nested too deeply; at most 64 levels are allowed")


def test_numbers_python_cannot_read_stay_text():
    long_int = "9" * 5000  # past Python's 4300-digit limit for int(str)
    root = parse(f"a: {long_int}\nb: 0b_\nc: ._\nd: {'1:' * 3000}1\n", F)
    assert value(root, "a").value == long_int
    assert (value(root, "b").value, value(root, "c").value) == ("0b_", "._")
    assert isinstance(value(root, "d").value, int)  # base 60: huge, but Python can hold it
    assert describe_value(value(root, "d").value) == "a number far too large"


# --- Checker ---------------------------------------------------------------------------------

def checked(text: str):
    return Checker(F), parse(text, F)


def test_mapping_reports_unknown_keys_with_a_suggestion_and_missing_keys():
    check, root = checked("targte_c: 38\nzzz: 1\nduration_s: 600\n")
    found = check.mapping(root, "soak", required=("target_c", "duration_s"), optional=("bubbles",))
    assert list(found) == ["duration_s"]
    assert [str(p) for p in check.problems] == [
        f"{F}:1:1: soak.targte_c: unknown key; did you mean 'target_c'? allowed keys: target_c, "
        "duration_s, bubbles",
        f"{F}:2:1: soak.zzz: unknown key; allowed keys: target_c, duration_s, bubbles",
        f"{F}:1:1: soak.target_c: missing; this key is required",
    ]


def test_mapping_at_the_top_names_the_file_when_the_document_is_not_a_mapping():
    check, root = checked("- a\n")
    assert check.mapping(root, "", required=("id",), optional=("name",)) is None
    assert [str(p) for p in check.problems] == [
        f"{F}:1:1: (file): a list is not a mapping; expected keys id, name"]
    check, root = checked("id: 1\n")
    check.mapping(root, "", optional=("name",))
    assert [str(p) for p in check.problems] == [f"{F}:1:1: id: unknown key; allowed keys: name"]


def test_text():
    check, root = checked("a: '  two   words\n  here '\nb: ''\nc: 12\nd: [x]\ne: Upper\nf: toolong\n")
    assert check.text(value(root, "a"), "a", max_len=20) == "two words here"
    assert check.text(value(root, "b"), "b", max_len=5) is None
    assert check.text(value(root, "c"), "c", max_len=5) is None
    assert check.text(value(root, "d"), "d", max_len=5) is None
    assert check.text(value(root, "e"), "e", max_len=9, pattern="[a-z]+", pattern_help="lower case") is None
    assert check.text(value(root, "f"), "f", max_len=5) is None
    assert [str(p) for p in check.problems] == [
        f"{F}:3:4: b: empty; write 1 to 5 characters",
        f"{F}:4:4: c: 12 is not text; write text of 1 to 5 characters",
        f"{F}:5:4: d: a list is not text; write text of 1 to 5 characters",
        f"{F}:6:4: e: 'Upper' is not allowed; lower case",
        f"{F}:7:4: f: 7 characters is too long; at most 5",
    ]


def test_number():
    check, root = checked(f"a: 38\nb: 38.5\nc: true\nd: .nan\ne: -.inf\nf: 7.5\ng: 600.0\nh: x\n"
                          f"i: {10**30}\n")
    assert check.number(value(root, "a"), "a", lo=30.0, hi=40.0) == 38.0
    assert isinstance(check.number(value(root, "a"), "a", lo=30.0, hi=40.0), float)
    assert check.number(value(root, "b"), "b", lo=30.0, hi=40.0, unit=" C") == 38.5
    assert check.number(value(root, "g"), "g", lo=1, hi=900, integer=True) == 600
    assert isinstance(check.number(value(root, "g"), "g", lo=1, hi=900, integer=True), int)
    assert check.problems == []
    for key in "cdefhi":
        assert check.number(value(root, key), key, lo=1, hi=10, integer=key == "f", unit=" s") is None
    assert [str(p) for p in check.problems] == [
        f"{F}:3:4: c: true is not a number; allowed: a number from 1 to 10 s",
        f"{F}:4:4: d: nan is out of range; allowed: a number from 1 to 10 s",
        f"{F}:5:4: e: -inf is out of range; allowed: a number from 1 to 10 s",
        f"{F}:6:4: f: 7.5 is not a whole number; allowed: a whole number from 1 to 10 s",
        f"{F}:8:4: h: 'x' is not a number; allowed: a number from 1 to 10 s",
        f"{F}:9:4: i: {10**30} is out of range; allowed: a number from 1 to 10 s",
    ]


def test_boolean_and_choice():
    check, root = checked("a: true\nb: 1\nc: auto\nd: 1\ne: false\n")
    assert check.boolean(value(root, "a"), "a") is True
    assert check.boolean(value(root, "b"), "b") is None
    assert check.choice(value(root, "c"), "c", ("auto", True, False)) == "auto"
    assert check.choice(value(root, "e"), "e", ("auto", True, False)) is False
    assert check.choice(value(root, "d"), "d", ("auto", True, False)) is None  # 1 is not true
    assert [str(p) for p in check.problems] == [
        f"{F}:2:4: b: 1 is not true or false; allowed: true or false",
        f"{F}:4:4: d: 1 is not allowed; allowed: 'auto', true, false",
    ]


def test_raise_if_any_raises_the_given_error_with_problems_sorted():
    class Custom(RoutineError):
        pass

    check = Checker(F)
    check.raise_if_any()  # nothing found, nothing raised
    check.problem(Node("scalar", 9, 1), "b", "second")
    check.problem(Node("scalar", 2, 7), "a", "first")
    with pytest.raises(Custom) as caught:
        check.raise_if_any(Custom)
    assert caught.value.problems == (Problem(F, 2, 7, "a", "first"), Problem(F, 9, 1, "b", "second"))
    assert str(caught.value) == f"{F}:2:7: a: first\n{F}:9:1: b: second"
    assert isinstance(caught.value, ValueError)


def test_describe():
    assert [describe_value(v) for v in (None, True, False, "x" * 41, 2.5, 10**30, 10**40)] == [
        "empty", "true", "false", repr("x" * 37 + "..."), "2.5", str(10**30), "a number far too large"]
    assert Node("map", 1, 1).describe() == "a mapping"
    assert DOCUMENT == "(file)"
