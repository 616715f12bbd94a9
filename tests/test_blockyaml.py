"""The fast reader of plain block YAML against the event reader it stands in for.

For any text, :func:`read_block_yaml` must return ``None`` or exactly what the event reader
builds: the same values (types, key order, interned keys) and the same position tree (packed
ints, tuples, deferred children at the same places), the same positions for every pointer once
completed. Documents are generated inside the subset and just outside it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tosguard.manifest import yamlload
from tosguard.manifest.blockyaml import read_block_yaml
from tosguard.manifest.decode import decode
from tosguard.manifest.failures import Failure
from tosguard.manifest.pointers import DEFERRED

ROOT = Path(__file__).resolve().parent.parent
PARSERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])


def event_read(text: str, defer: bool = True, max_depth: int = 64) -> Any:
    """Today's reader without the fast path: the event reader alone."""
    with mock.patch.object(yamlload, "read_block_yaml", lambda *args: None):
        value, positions = yamlload._load_yaml(text, max_depth, defer=defer)
        list(positions)  # complete it while the fast path is still off
    return value, positions


def fast_read(text: str, defer: bool = True, max_depth: int = 64) -> Any:
    return read_block_yaml(
        text,
        max_depth,
        yamlload.DEFER_DEPTH if defer else 0,
        lambda: yamlload._load_yaml(text, max_depth)[1],
    )


def assert_same(fast: Any, slow: Any, where: str = "") -> None:
    """Equal values of the same types, dict keys in the same order and interned."""
    assert type(fast) is type(slow), where
    if isinstance(fast, dict):
        assert list(fast) == list(slow), where
        for key in fast:
            assert key is sys.intern(key), (where, key)
            assert_same(fast[key], slow[key], f"{where}/{key}")
    elif isinstance(fast, list | tuple):
        assert len(fast) == len(slow), where
        for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
            assert_same(a, b, f"{where}/{index}")
    elif isinstance(fast, float) and math.isnan(slow):
        assert math.isnan(fast), where
    else:
        assert fast is slow or fast == slow, where  # DEFERRED, None and booleans: identical


def assert_reads_alike(text: str, max_depth: int = 64) -> bool:
    """The fast reader gives ``None`` or exactly what the event reader gives; True if it read
    the text."""
    for defer in (True, False):
        fast = fast_read(text, defer, max_depth)
        try:
            slow = event_read(text, defer, max_depth)
        except Failure:
            assert fast is None, "the fast reader read a text the event reader refuses"
            return False
        if fast is None:
            return False
        assert_same(fast[0], slow[0])
        fast_positions, slow_positions = fast[1], slow[1]
        # the partial trees (before any lookup completes them) are the same
        partial = event_partial(text, defer, max_depth)
        assert (fast_positions._complete is None) == (partial._complete is None)
        assert_same(fast_positions._root, partial._root)
        # every pointer (and `#key`), deferred ones included once completed
        assert list(fast_positions) == list(slow_positions)
        for pointer in slow_positions:
            assert fast_positions[pointer] == slow_positions[pointer], pointer
        assert_same(fast_positions._root, slow_positions._root)
    return True


def event_partial(text: str, defer: bool, max_depth: int) -> Any:
    """The event reader's positions before any lookup completes them."""
    parser = yamlload._PARSER(text)
    try:
        _, positions = yamlload._build(
            parser.get_event,
            max_depth,
            False,
            yamlload.DEFER_DEPTH if defer else 0,
            lambda: pytest.fail("completed"),
        )
    finally:
        parser.dispose()
    return positions


@pytest.fixture(params=PARSERS, ids=lambda p: p.__name__)
def parser(request, monkeypatch):
    monkeypatch.setattr(yamlload, "_PARSER", request.param)
    return request.param


# --- documents in and around the subset ---------------------------------------------------

PLAIN_WORDS = [
    # resolved spellings
    "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~",
    "0", "-0", "+0", "7", "+7", "-12", "010", "08", "1e5", "1.5e5", "1.5e+5", "1.5E-3", ".5",
    "2.", "-2.5", "+.inf", "-.Inf", ".INF", ".nan", ".NaN", ".NAN", "0x1F", "0o17", "1_000",
    "99999999999999999999999", "9" * 5000,
    # strings that YAML 1.1 would read otherwise
    "NO", "no", "yes", "on", "Off", "y", "2025-01-02", "12:30", "1.2.3",
    # plain strings and near misses
    "model-output", "gpt-4o", "Built with Llama", "a  b", "é", "café au lait", "日本", "😀",
    "x#y", "x #y", "a: b", "a:b", "x:", "-x", "--x", "- x", "-", "...", "---", "x,y", "x[1]",
    "it's", 'say "hi"', "a\\b", "@x", "`x`", "%x", "!x", "&x", "*x", "|", ">", "?x", ":x",
    "=", "<<", "x\u00a0y", "\u00a0x", "a \u2028 b", "a\u0085b", "x\ufeff", "https://x.org/a#b",
]  # fmt: skip
TAME_WORDS = [
    "true", "False", "null", "~", "0", "-12", "+7", "010", "1e5", "1.5e+5", ".5", "2.", "-.inf",
    ".NaN", "NO", "yes", "2025-01-02", "model-output", "Built with Llama", "é", "😀", "a/b.c",
    "a@b", "x|y", "p&q", "a*b", "50%", "a!b", "x>y", "a?b", "a;b", "(x)", "a=b", "x'y", 'x"y',
    "a,b", "x[0]", "f{x}", "12:30", "http://x.org/y", "x - y", "日本語", "a\u00a0b",
    '"a # b"', "'a: b'", '"x:"', '"#"', "'# x'", '"[a, b]"', '"{a: b}"', '"- x"', "'\"'",
    "x" * 3000, '"' + "y " * 1500 + '"', "'" + "日" * 1000 + "'",
]  # fmt: skip
KEYS = ["a", "b", "id", "use", "NO", "true", "_x", "a-b", "k1", "sources", "key"]
ODD_KEYS = ['"q"', "'q'", "a b", "1", "é", "k" * 200, "x:y", "-k", "? k", "[k]", "&a k", "!!str k"]


@st.composite
def scalars(draw: Any, tame: bool, in_flow: bool = False) -> str:
    """A scalar as written after `key: ` or `- ` (``tame``: almost always inside the subset)."""
    kinds = ["word", "word", "double", "single"] if tame else ["word", "double", "single", "text"]
    kind = draw(st.sampled_from(kinds + ["spaced"]))
    if kind == "word":
        return draw(st.sampled_from(TAME_WORDS if tame else PLAIN_WORDS))
    alphabet = (
        st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=["Cc"])
        | st.sampled_from("é日😀 ")
        if tame
        else st.characters(codec="utf-8", exclude_categories=["Cs"])
    )
    text = draw(st.text(alphabet, max_size=12))
    if kind == "double":
        if not tame and draw(st.booleans()):
            return json.dumps(text, ensure_ascii=draw(st.booleans()))  # escapes
        return '"' + text.replace("\\", "").replace('"', "") + '"'
    if kind == "single":
        return "'" + text.replace("'", "" if tame else draw(st.sampled_from(["''", ""]))) + "'"
    if kind == "spaced":
        return draw(st.sampled_from(TAME_WORDS)) + " " * draw(st.integers(1, 3))
    return text or "x"


@st.composite
def flows(draw: Any, tame: bool, depth: int = 0) -> str:
    comma = draw(st.sampled_from([", ", ",", " , ", ",  "]))
    pad = draw(st.sampled_from(["", "", " "]))
    count = draw(st.integers(0, 4))

    def item() -> str:
        if not tame and depth < 2 and draw(st.integers(0, 9)) == 0:
            return draw(flows(tame, depth + 1))
        return draw(scalars(tame, in_flow=True))

    if draw(st.booleans()):
        items = [item() for _ in range(count)]
        return "[" + pad + comma.join(items) + pad + "]"
    if tame:  # no duplicate key
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=count, max_size=count, unique=True))
    else:
        keys = [draw(st.sampled_from(KEYS + ODD_KEYS[:3])) for _ in range(count)]
    colon = draw(st.sampled_from([": ", ": ", ":  "] if tame else [": ", ":"]))
    return "{" + pad + comma.join(k + colon + item() for k in keys) + pad + "}"


@st.composite
def trees(draw: Any, tame: bool, depth: int = 0) -> Any:
    """("map", [(key, node)]) | ("seq", [node]) | ("leaf", text)."""
    roll = draw(st.integers(0, 9))
    if depth > 0 and (roll < 5 or depth > 5):
        leaf = draw(flows(tame)) if roll == 4 else draw(scalars(tame))
        return ("leaf", leaf)
    width = draw(st.integers(1, 4))
    if roll % 2:
        items = [draw(trees(tame, depth + 1)) for _ in range(width)]
        if tame:  # `- - x` is outside the subset
            items = [("leaf", "[]") if item[0] == "seq" else item for item in items]
        return ("seq", items)
    if tame:  # no duplicate key
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=width, max_size=width, unique=True))
    else:
        pool = KEYS + ODD_KEYS if draw(st.integers(0, 4)) == 0 else KEYS
        keys = [draw(st.sampled_from(pool)) for _ in range(width)]
    pairs = [(key, draw(trees(tame, depth + 1))) for key in keys]
    return ("map", pairs)


@st.composite
def documents(draw: Any) -> str:
    tame = draw(st.integers(0, 2)) > 0
    step = draw(st.sampled_from([2, 2, 4, 1, 3]))
    indentless = draw(st.booleans())
    dash_gap = draw(st.sampled_from([" ", " ", "  ", "   "]))

    def comment() -> str:
        odd = [] if tame else ["# x", "\t# t"]
        return draw(st.sampled_from(["", "", "", "", " # note", "  #: x", " #", *odd]))

    def render(node: Any, indent: int) -> list[str]:
        kind, body = node
        pad = " " * indent
        lines: list[str] = []
        if kind == "map":
            for key, child in body:
                colon = draw(st.sampled_from([": ", ": ", ":  "] + ([] if tame else [":"])))
                if child[0] == "leaf":
                    lines.append(f"{pad}{key}{colon}{child[1]}{comment()}")
                    continue
                lines.append(f"{pad}{key}:{comment()}")
                deeper = indent if child[0] == "seq" and indentless else indent + step
                lines.extend(render(child, deeper))
        elif kind == "seq":
            for child in body:
                if child[0] == "leaf":
                    lines.append(f"{pad}-{dash_gap}{child[1]}{comment()}")
                    continue
                inner = render(child, indent + 1 + len(dash_gap))
                if not tame and draw(st.integers(0, 9)) == 0:
                    lines.append(f"{pad}-{comment()}")  # the item on the lines below
                    lines.extend(inner)
                else:
                    lines.append(f"{pad}-{dash_gap}{inner[0].lstrip(' ')}")
                    lines.extend(inner[1:])
        return lines

    lines = render(draw(trees(tame)), draw(st.sampled_from([0, 0, 0, 2])))
    for _ in range(draw(st.integers(0, 3))):  # mutations; a tame one keeps the text in the subset
        at = draw(st.integers(0, len(lines)))
        lines.insert(
            at,
            draw(
                st.sampled_from(
                    ["", "   ", "# comment", "  # indented comment"]
                    if tame
                    else [
                        "",
                        "# comment",
                        "    continued",
                        "---",
                        "...",
                        "%YAML 1.1",
                        "key: &anchor x",
                        "key: *anchor",
                        "key: !!str x",
                        "key: |",
                        "  block",
                        "? complex",
                        "a: 1",
                        "a:",
                        "- x",
                        "\tkey: x",
                        " key: x",
                    ]
                )
            ),
        )
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "\n", "", "\n\n", "\n# end\n"]))
    if not tame and draw(st.integers(0, 9)) == 0:
        text = text.replace("\n", "\r\n")
    if not tame and draw(st.integers(0, 9)) == 0:
        text = "---\n" + text
    return text


SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(documents())
def test_fast_reader_is_the_event_reader_or_none(parser, text):
    read = assert_reads_alike(text)
    event("read by the fast reader" if read else "left to the event reader")


@SETTINGS
@given(documents(), st.integers(2, 8))
def test_depth_limits_are_left_to_the_event_reader(parser, text, max_depth):
    assert_reads_alike(text, max_depth)


@given(
    st.dictionaries(
        st.sampled_from(KEYS), st.from_regex(r"[a-z][a-z0-9 -]{0,10}[a-z]", fullmatch=True)
    )
)
@settings(max_examples=100, deadline=None)
def test_plain_mappings_are_read_fast(value):
    """Inside the subset the fast reader does read the text (it does not just give up)."""
    text = "".join(f"{key}: {item}\n" for key, item in value.items()) or "{}\n"
    if value:
        assert assert_reads_alike(text)


# --- known cases --------------------------------------------------------------------------

IN_SUBSET = [
    "a: 1\n",
    "a: 1",  # no final line break
    "# c\n\na: x  # c\nb:\n  c: [1, 'x', \"y\"]\n  d: {e: NO, f: ~}\n",
    "sources:\n- id: a\n  use: []\n- id: b\nn: 1\n",
    "sources:\n  - id: a\n    access: {route: direct, from_country: KR}\n    use: [rlhf]\n",
    "- a\n- [b, c]\n- {d: e}\n-   f: 1\n    g: 2\n",
    "  a: 1\n  b:\n     - x\n",
    "a:\n  b:\n    c:\n      d: [x]\n      e: {f: 1}\n",
    "k: 12:30\nu: https://x.org/a\nw: Built with Llama, it's [x] {y}\n",
    "a: x \nb: 'q' \n",
    "a: b #c\n",
    "n: 99999999999999999999999\nf: 1.5e+5\ng: .NaN\nh: -.inf\n",
]
OUTSIDE = [
    "a: 1\na: 2\n",  # duplicate key
    "a:\n  b: 1\n  b: 2\n",
    "a: {b: 1, b: 2}\n",
    "a: &x 1\n",
    "a: !!str 1\n",
    "---\na: 1\n",
    "a: 1\n---\nb: 2\n",
    "a: |\n  x\n",
    "a: foo\n  bar\n",  # a multi-line plain scalar
    'a: "x\\ty"\n',
    "a:\n",
    "a:\nb: 1\n",
    "a: 1\r\nb: 2\r\n",
    "a:\tb\n",
    "a: " + "9" * 5000 + "\n",
    "x\n",
    "",
    "# only a comment\n",
    "a: [b, [c]]\n",
    "a: x#y\n",
    "a: b: c\n",
    "- - x\n",
    "-\n  a: 1\n",
    "a:\n    - x\n  b: 1\n",
    "a: 1\n - x\n",
    "'a': 1\n",
    'a: "x\u2028y"\n',
]


@pytest.mark.parametrize("text", IN_SUBSET)
def test_in_the_subset(parser, text):
    assert assert_reads_alike(text), text


@pytest.mark.parametrize("text", OUTSIDE)
def test_outside_the_subset(parser, text):
    assert fast_read(text) is None
    assert fast_read(text, defer=False) is None


def test_depth_near_the_limit_is_left_to_the_event_reader():
    text = "".join("  " * level + "a:\n" for level in range(10)) + "  " * 10 + "b: 1\n"
    assert assert_reads_alike(text, max_depth=12)
    assert fast_read(text, max_depth=11) is None  # a level short of the limit: not read
    assert fast_read(text, max_depth=10) is None
    with pytest.raises(Failure):
        event_read(text, max_depth=10)
    assert fast_read("a: [1]\n", max_depth=2) is None


def test_long_columns_are_kept_as_tuples():
    pad = " " * 70_000
    text = f"a: x\nb: [1,{pad}2]\nc: {{d: 1,{pad}e: 2}}\n"
    assert assert_reads_alike(text)
    _, positions = fast_read(text)
    assert positions["/b/1"] == (2, 70_007)


# --- every YAML file in the repository, and the manifests the benchmarks read ----------------


def _repository_yaml() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.yaml", "*.yml"], cwd=ROOT, capture_output=True, text=True
    )
    names = listed.stdout.split() if listed.returncode == 0 else []
    return [ROOT / name for name in names] or sorted(ROOT.glob("examples/*.yaml"))


def _embedded_manifests(path: Path) -> list[str]:
    """The manifests a corpus case holds as text (``manifest_text: |``)."""
    try:
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return []
    if isinstance(case, dict) and isinstance(case.get("manifest_text"), str):
        return [case["manifest_text"]]
    return []


def test_every_yaml_file_in_the_repository_reads_alike():
    paths = _repository_yaml()
    assert len(paths) > 50
    read = 0
    for path in paths:
        try:
            text = decode(path.read_bytes(), yamlload.DEFAULT_MAX_BYTES)
        except Failure:
            continue
        for document in [text, *_embedded_manifests(path)]:
            read += assert_reads_alike(document)
    assert read >= 20  # the examples at least


def test_the_examples_and_the_benchmark_manifests_take_the_fast_path():
    """A regression to the event reader for the usual manifest would fail here."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from generate import manifest_text
    finally:
        sys.path.remove(str(ROOT / "bench"))
    texts = [(ROOT / "examples" / "acme.yaml").read_text(encoding="utf-8")]  # the README's
    texts += [manifest_text(200), manifest_text(30, variant="undeclared-kind")]
    texts += [path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("examples/*.yaml"))]
    for text in texts:
        assert assert_reads_alike(text)
    with mock.patch.object(yamlload, "_PARSER", None):  # no event reader at all
        value, positions = yamlload.load_document(texts[1], "big.yaml")
        assert len(value["sources"]) == 200
        assert positions["/sources/199/id"][1] == 9
        assert positions._root[4]["sources"][4][0][4]["use"][4] is DEFERRED
        assert positions["/sources/0/use/0"][0] == 27  # completed by the fast reader too


@pytest.mark.parametrize(
    "text",
    [
        "a: [" + "a, " * 100_000 + "\n",  # an unclosed flow sequence
        "a: {" + "k: v, " * 50_000 + "\n",
        "a: " + "x " * 150_000 + ": y\n",  # `: ` after many words
        "a: " + "x:" * 150_000 + "\n",
        "a: x" + " " * 300_000 + "y:\n",
    ],
    ids=["flow-sequence", "flow-mapping", "words", "colons", "spaces"],
)
def test_long_lines_outside_the_subset_are_declined_in_linear_time(text):
    start = time.perf_counter()
    assert fast_read(text) is None
    assert time.perf_counter() - start < 10  # about 0.2 s; a backtracking blow-up takes hours


def test_a_line_longer_than_the_longest_is_left_to_the_event_reader():
    from tosguard.manifest.blockyaml import LONGEST_LINE

    items = (LONGEST_LINE + 1) // 2
    text = "tosguard: 1\nsources:\n  - id: a\n    use: [" + "x," * (items - 1) + "x]\n"
    assert len(text.splitlines()[3]) > LONGEST_LINE
    assert fast_read(text) is None
    shorter = "tosguard: 1\nsources:\n  - id: a\n    use: [" + "x," * 99 + "x]\n"
    assert assert_reads_alike(shorter)
