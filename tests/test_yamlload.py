"""The strict YAML/JSON loader: values, positions, and every refusal with its place."""

from __future__ import annotations

import json
import math
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosguard.errors import ManifestError
from tosguard.manifest import yamlload
from tosguard.manifest.yamlload import PositionMap, load_document, load_document_text

PARSERS = [pytest.param(yaml.SafeLoader, id="python-parser")]
if yaml.__with_libyaml__:
    PARSERS.insert(0, pytest.param(yaml.CSafeLoader, id="c-parser"))


@pytest.fixture(params=PARSERS, autouse=True)
def parser(request, monkeypatch):
    """Run every test with libyaml's C parser and with PyYAML's pure-Python one."""
    monkeypatch.setattr(yamlload, "_PARSER", request.param)
    return request.param


def error_of(data: bytes | str, name: str = "doc.yaml", **kwargs):
    with pytest.raises(ManifestError) as info:
        load_document(data, name, **kwargs)
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0]


def where(diagnostic) -> tuple[int, int]:
    return diagnostic.span.line, diagnostic.span.column


# --- scalars ------------------------------------------------------------------------------


def test_yaml11_words_stay_strings():
    value, _ = load_document(
        b"a: NO\nb: no\nc: yes\nd: on\ne: Off\nf: 2025-01-02\ng: 0o17\nh: 1_000\n"
        b"i: 0x1F\nj: y\nk: 12:30\nl: 1.2.3\nm: 010\nn: 1e5\no: 1.5e5\np: 08\n",
        "doc.yaml",
    )
    assert value == {
        "a": "NO", "b": "no", "c": "yes", "d": "on", "e": "Off", "f": "2025-01-02",
        "g": "0o17", "h": "1_000", "i": "0x1F", "j": "y", "k": "12:30", "l": "1.2.3",
        "m": "010", "n": "1e5", "o": "1.5e5", "p": "08",
    }  # fmt: skip


def test_scalars_both_yaml_versions_agree_on_resolve():
    value, _ = load_document(
        b"t: true\nT: True\nf: FALSE\nn: null\nN: Null\ntilde: ~\nempty:\ni: -12\np: +7\n"
        b"z: 0\nx: 1.5\ne: 1.5e+5\nd: 2.\nh: .5\ninf: -.inf\nnan: .nan\n",
        "doc.yaml",
    )
    assert value["t"] is True and value["T"] is True and value["f"] is False
    assert value["n"] is None and value["N"] is None and value["tilde"] is None
    assert value["empty"] is None
    assert (value["i"], value["p"], value["z"]) == (-12, 7, 0)
    assert all(type(value[k]) is int for k in ("i", "p", "z"))
    assert (value["x"], value["e"], value["d"], value["h"]) == (1.5, 150000.0, 2.0, 0.5)
    assert value["inf"] == -math.inf and math.isnan(value["nan"])


def test_quoted_and_block_scalars_are_strings():
    value, _ = load_document(b"a: 'true'\nb: \"12\"\nc: |\n  null\nd: >\n  3\n", "doc.yaml")
    assert value == {"a": "true", "b": "12", "c": "null\n", "d": "3\n"}


def test_keys_are_always_strings():
    value, _ = load_document(b"NO: 1\n1: x\ntrue: y\nnull: z\n'q': w\n", "doc.yaml")
    assert value == {"NO": 1, "1": "x", "true": "y", "null": "z", "q": "w"}


def test_number_with_too_many_digits():
    diagnostic = error_of(b"a: " + b"9" * 5000 + b"\n")
    assert diagnostic.code == "manifest-syntax"
    assert where(diagnostic) == (1, 4)


# --- positions ----------------------------------------------------------------------------


def test_positions_of_values_and_keys():
    text = (
        b"tosguard: 1\n"
        b"sources:\n"
        b"  - id: a\n"
        b"    access:\n"
        b"      from_country: AE\n"
        b"    use: [fine-tuning, rlhf]\n"
        b"    collected: {from: 2025-01-02}\n"
    )
    value, positions = load_document(text, "doc.yaml")
    assert value["sources"][0]["use"] == ["fine-tuning", "rlhf"]
    assert positions[""] == (1, 1)
    assert positions["/tosguard"] == (1, 11)
    assert positions["/tosguard#key"] == (1, 1)
    assert positions["/sources"] == (3, 3)
    assert positions["/sources/0"] == (3, 5)
    assert positions["/sources/0/id"] == (3, 9)
    assert positions["/sources/0/access/from_country"] == (5, 21)
    assert positions["/sources/0/access/from_country#key"] == (5, 7)
    assert positions["/sources/0/use/1"] == (6, 24)
    assert positions["/sources/0/collected/from"] == (7, 23)
    assert positions["/sources/0/collected/from#key"] == (7, 17)


def test_pointer_escaping():
    value, positions = load_document(b'{"a/b": {"c~d": 1}}', "doc.json")
    assert value == {"a/b": {"c~d": 1}}
    assert positions["/a~1b/c~0d"] == (1, 17)
    assert "/a~1b/c~0d#key" in positions


def test_position_map_interface():
    _, positions = load_document(b"a: [x, {b: 1}]\nc: 2\n", "doc.yaml")
    assert isinstance(positions, PositionMap)
    assert list(positions) == [
        "", "/a", "/a#key", "/a/0", "/a/1", "/a/1/b", "/a/1/b#key", "/c", "/c#key",
    ]  # fmt: skip
    assert len(positions) == 9
    assert dict(positions)["/a/1/b"] == (1, 12)
    assert positions.get("/missing") is None
    assert "/a/01" not in positions and "/a/-1" not in positions and "/a/9" not in positions
    assert "#key" not in positions  # the root has no key
    assert positions.nearest("/a/1/zzz/0") == (1, 8)
    assert positions.nearest("/nothing") == (1, 1)


def test_crlf_line_endings():
    _, positions = load_document(b"a: 1\r\nb:\r\n  c: 2\r\n", "doc.yaml")
    assert positions["/b/c"] == (3, 6)


def test_columns_count_characters_not_bytes():
    _, positions = load_document("név: café\nx: [é, ü]\n".encode(), "doc.yaml")
    assert positions["/név"] == (1, 6)
    assert positions["/x/1"] == (2, 8)


def test_load_document_text_returns_text_without_bom():
    _, _, text = load_document_text(b"\xef\xbb\xbfa: 1\n", "doc.yaml")
    assert text == "a: 1\n"


# --- refusals -----------------------------------------------------------------------------


def test_duplicate_key_yaml():
    diagnostic = error_of(b"a: 1\nb:\n  c: 1\n  c: 2\n")
    assert diagnostic.code == "manifest-duplicate-key"
    assert where(diagnostic) == (4, 3)
    assert "line 3" in diagnostic.help
    assert diagnostic.pointer == "/b/c"
    assert diagnostic.source_line == "  c: 2"


def test_duplicate_key_quoted_and_plain():
    diagnostic = error_of(b'NO: 1\n"NO": 2\n')
    assert diagnostic.code == "manifest-duplicate-key"
    assert where(diagnostic) == (2, 1)


def test_duplicate_key_json():
    diagnostic = error_of(b'{\n  "a": 1,\n  "b": {"x": 1, "x": 2}\n}', "doc.json")
    assert diagnostic.code == "manifest-duplicate-key"
    assert where(diagnostic) == (3, 17)
    assert "line 3" in diagnostic.help


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_refused_fast():
    start = time.perf_counter()
    diagnostic = error_of(BILLION_LAUGHS)
    assert time.perf_counter() - start < 0.5
    assert diagnostic.code == "manifest-alias"
    assert where(diagnostic) == (1, 4)
    assert "alias bomb" in diagnostic.help
    assert "`&a`" in diagnostic.message


def test_alias_without_anchor_refused():
    diagnostic = error_of(b"a: 1\nb: *nowhere\n")
    assert diagnostic.code == "manifest-alias"
    assert where(diagnostic) == (2, 4)


@pytest.mark.parametrize("text", [b"a: !!str 1\n", b"a: !custom x\n", b"a: !!map {b: 1}\n"])
def test_explicit_tags_refused(text):
    diagnostic = error_of(text)
    assert diagnostic.code == "manifest-tag"
    assert where(diagnostic) == (1, 4)


def test_complex_key_refused():
    diagnostic = error_of(b"? [a, b]\n: 1\n")
    assert diagnostic.code == "manifest-invalid-key"
    assert where(diagnostic) == (1, 3)


@pytest.mark.parametrize("name", ["doc.yaml", "doc.json"])
def test_deep_flow_nesting(name):
    depth = 10_000
    diagnostic = error_of(b"[" * depth + b"]" * depth, name)
    assert diagnostic.code == "manifest-too-deep"
    assert where(diagnostic) == (1, 65)


def _deep_flow(draw) -> str:
    """A document whose flow nesting passes libyaml's own limit of 1000 levels somewhere."""

    def opener() -> str:
        return draw(
            st.sampled_from(["[", "[", "[ ", "{k: ", '{"é k": ', "['x]', ", "[1, ", "[a, {b: 1}, "])
        )

    depth = draw(st.integers(1001, 1100))
    prefix = draw(st.sampled_from(["", "a: ", "a:\n  b: ", "- ", "x: 1\ny: ", "# c\nz: "]))
    middle = "".join(opener() for _ in range(draw(st.integers(0, 80))))
    return prefix + middle + "[" * depth + "]" * depth


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="needs libyaml")
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_nesting_past_libyamls_limit_fails_as_with_the_python_parser(parser, data):
    """libyaml stops at 1000 flow levels, reading ahead of its events; the error must be
    tosguard's own, the same in code, place, help and pointer as with the Python parser."""
    if parser is not yaml.CSafeLoader:
        pytest.skip("compares the two parsers once")
    text = _deep_flow(data.draw)

    def diagnostic(parser):
        yamlload._PARSER = parser
        try:
            found = error_of(text.encode())
            return found.as_dict() | {"source_line": found.source_line}
        finally:
            yamlload._PARSER = yaml.SafeLoader

    assert diagnostic(yaml.CSafeLoader) == diagnostic(yaml.SafeLoader)
    assert diagnostic(yaml.CSafeLoader)["code"] == "manifest-too-deep"


def test_deep_block_nesting():
    depth = 10_000
    diagnostic = error_of(b"- " * depth + b"x\n")
    assert diagnostic.code == "manifest-too-deep"
    assert where(diagnostic) == (1, 129)


def test_deep_block_mapping_nesting():
    text = "".join("  " * level + "a:\n" for level in range(200)) + "  " * 200 + "b: 1\n"
    diagnostic = error_of(text.encode())
    assert diagnostic.code == "manifest-too-deep"
    assert where(diagnostic) == (65, 129)


def test_depth_limit_is_inclusive():
    ok = b"[" * 64 + b"]" * 64
    load_document(ok, "doc.yaml")
    load_document(ok, "doc.json")
    assert error_of(ok, max_depth=63).code == "manifest-too-deep"


def test_invalid_utf8_reports_line_and_column():
    diagnostic = error_of(b"tosguard: 1\nname: caf\xc3\xa9 \xff\n")
    assert diagnostic.code == "manifest-encoding"
    assert where(diagnostic) == (2, 12)
    assert diagnostic.help == "save the file as UTF-8"
    assert "0xff" in diagnostic.message


def test_utf16_gets_a_hint():
    diagnostic = error_of("a: 1\n".encode("utf-16"))
    assert diagnostic.code == "manifest-encoding"
    assert "UTF-16" in diagnostic.help


def test_bom_accepted():
    value, positions = load_document(b"\xef\xbb\xbftosguard: 1\n", "doc.yaml")
    assert value == {"tosguard": 1}
    assert positions["/tosguard"] == (1, 11)


def test_str_input_with_lone_surrogate():
    diagnostic = error_of("a: \ud800\n")
    assert diagnostic.code == "manifest-encoding"
    assert where(diagnostic) == (1, 4)


@pytest.mark.parametrize(
    ("text", "position"),
    [(b"a: 1\nb: \x00\n", (2, 4)), (b"a: \x1b[31m\n", (1, 4)), ("a: \x85\x7f".encode(), (2, 1))],
)
def test_control_characters_refused(text, position):
    diagnostic = error_of(text)
    assert diagnostic.code == "manifest-syntax"
    assert where(diagnostic) == position


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        (b"a: b: c\n", (1, 5), "mapping values are not allowed"),
        (b"a:\n\t- b\n", (2, 1), "cannot start any token"),
        (b"a: [1, 2\nb: 3\n", (2, 2), ""),
        (b'a: "open\n', (2, 1), "end of stream"),
        (b"a: 1\n b: 2\n", (2, 3), "mapping values are not allowed"),
    ],
)
def test_syntax_errors_have_positions(text, position, words):
    diagnostic = error_of(text)
    assert diagnostic.code == "manifest-syntax"
    assert where(diagnostic) == position
    assert words in diagnostic.message
    assert diagnostic.message[:1].islower() and not diagnostic.message.endswith(".")


def test_multiple_documents_refused():
    diagnostic = error_of(b"a: 1\n---\nb: 2\n")
    assert diagnostic.code == "manifest-multiple-documents"
    assert where(diagnostic) == (2, 1)


@pytest.mark.parametrize("text", [b"", b"# nothing\n", b"---\n", b"~\n", b"null\n", b"  \n"])
def test_empty_documents(text):
    assert error_of(text).code == "manifest-empty"


@pytest.mark.parametrize("text", [b"", b"  \n", b"null"])
def test_empty_json(text):
    assert error_of(text, "doc.json").code == "manifest-empty"


def test_too_large_checked_before_parsing():
    diagnostic = error_of(b"a: [" + b"1, " * 100 + b"\x00", max_bytes=100)
    assert diagnostic.code == "manifest-too-large"


def test_unknown_format():
    assert error_of(b"a: 1\n", fmt="toml").code == "manifest-format"


# --- JSON ---------------------------------------------------------------------------------


def test_json_values_and_escapes():
    text = (
        b'{"a": "\\/", "b": "\\u00e9", "c": "\\ud83d\\ude00", "d": [1, 2.5, -0, 1E5, true, null]}'
    )
    value, positions = load_document(text, "doc.json")
    assert value == {"a": "/", "b": "é", "c": "😀", "d": [1, 2.5, 0, 100000.0, True, None]}
    assert type(value["d"][2]) is int and type(value["d"][3]) is float
    assert positions["/c"] == (1, 33)
    assert positions["/d/3"] == (1, 67)


def test_json_format_by_name_or_argument():
    assert load_document(b'{"a": 1}', "x.JSON")[0] == {"a": 1}
    assert error_of(b'{"a": NaN}', "x.txt", fmt="json").code == "manifest-syntax"


@pytest.mark.parametrize(
    ("text", "position", "word"),
    [(b'{"a": NaN}', (1, 7), "NaN"), (b'{"a":\n [1, -Infinity]}', (2, 6), "-Infinity")],
)
def test_json_non_finite_refused(text, position, word):
    diagnostic = error_of(text, "doc.json")
    assert diagnostic.code == "manifest-syntax"
    assert where(diagnostic) == position
    assert f"`{word}`" in diagnostic.message


@pytest.mark.parametrize(
    ("text", "position"),
    [(b'{"a": [1,]}', (1, 10)), (b'{\n  "a": 1\n  "b": 2}', (3, 3)), (b'{"a": 1} x', (1, 10))],
)
def test_json_syntax_errors(text, position):
    diagnostic = error_of(text, "doc.json")
    assert diagnostic.code == "manifest-syntax"
    assert where(diagnostic) == position
    assert diagnostic.message.startswith("invalid JSON")


@pytest.mark.parametrize(
    "text",
    [
        '{"' + "k" * 2000 + '": {"x": [1, "\x7f", "\u2028"]}}',  # YAML-only limits
        '{\n\t"a": {"b": [1,\n\t\t2]}}',  # tabs (the pure-Python YAML parser refuses them)
        '{"a": "\\ud83d\\ude00", "b": [true]}',  # surrogate pairs
    ],
)
def test_json_positions_when_yaml_cannot_read_it(text):
    value, positions = load_document(text.encode(), "doc.json")
    assert value == json.loads(text)
    scanned = yamlload._scan_json(text, 64)
    assert dict(positions) == dict(scanned)
    assert all(pointer in positions for pointer in _pointers(value))


def test_json_scanner_agrees_with_yaml_positions():
    text = json.dumps(
        {"tosguard": 1, "sources": [{"id": "a", "use": ["x", "y"], "n": None}], "e": {}},
        indent=2,
    )
    _, from_yaml = load_document(text, "doc.json")
    assert dict(from_yaml) == dict(yamlload._scan_json(text, 64))
    assert from_yaml["/sources/0/use/1"] == (8, 9)


# --- properties ---------------------------------------------------------------------------


def _pointers(value, prefix=""):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _pointers(item, f"{prefix}/{yamlload.escape_pointer(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pointers(item, f"{prefix}/{index}")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_manifest_errors(data):
    for name in ("doc.yaml", "doc.json"):
        try:
            load_document(data, name)
        except ManifestError as err:
            assert err.diagnostics and all(d.code.startswith("manifest-") for d in err.diagnostics)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_yaml_safe_dump_round_trip(value):
    # allow_unicode=False: PyYAML's emitter itself mangles a lone NEL (U+0085) otherwise.
    text = yaml.safe_dump(value, allow_unicode=False)
    loaded, positions = load_document(text, "doc.yaml")
    assert loaded == value
    assert all(pointer in positions for pointer in _pointers(value))


@FUZZ
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_json_round_trip_with_positions(value):
    text = json.dumps(value, ensure_ascii=False)
    loaded, positions = load_document(text.encode(), "doc.json")
    assert loaded == value
    assert all(pointer in positions for pointer in _pointers(value))


@FUZZ
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    st.sampled_from([None, 0, 2, 4]),
    st.booleans(),
    st.sampled_from(["", "\n", "  \n "]),
)
def test_lazy_json_positions_equal_the_full_scan(value, indent, ascii_only, around):
    """The top-level positions read without the full scan are those the full scan gives; a
    deeper lookup completes the map with the same positions."""
    text = around + json.dumps(value, indent=indent, ensure_ascii=ascii_only) + around
    _, lazy = load_document(text.encode(), "doc.json")
    full = yamlload._scan_json(text, yamlload.DEFAULT_MAX_DEPTH)
    top = [""] + [f"/{yamlload.escape_pointer(key)}" for key in value]
    top += [
        f"{pointer}/{index}"
        for pointer, key in zip(top[1:], value, strict=True)
        if isinstance(value[key], list)
        for index in range(len(value[key]))
    ]
    for pointer in top:  # answered from the partial map
        assert lazy[pointer] == full[pointer], pointer
        if pointer:
            assert lazy.get(pointer + "#key") == full.get(pointer + "#key"), pointer
    assert list(lazy) == list(full)  # completes the map
    assert all(lazy[pointer] == full[pointer] for pointer in full)


def test_json_positions_of_a_deep_lookup_come_from_the_full_reader():
    text = '{"sources": [{"id": "a",\n "use": ["x",\n  "y"]}], "n": 1}'
    _, positions = load_document(text.encode(), "doc.json")
    assert positions["/sources/0"] == (1, 14)
    assert positions["/sources/0/use/1"] == (3, 3)
    assert positions["/n#key"] == (3, 11)
