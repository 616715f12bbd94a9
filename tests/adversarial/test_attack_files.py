"""Attacks on the files tosguard writes (issue 9, items 7 and 8).

`--output` must never overwrite an input, whatever path leads to it, and must replace its target
atomically: a file-size limit, a full disk, SIGTERM or SIGINT in the middle of the write leave
the old file as it was and no temporary file behind. `check` with an invalid manifest writes no
report at all. `fmt` changes only the layout: mode, owner, symlinks, hard links and byte-order
mark survive; standard input is decoded by the same rule as a file; `--check`/`--diff` and
files that fail to parse are never written. The compiled-library and parser caches are never
written through a planted symlink.

Everything runs in ``tmp_path`` (the caches too) with bounded waits; the CLI runs as a
subprocess wherever signals or resource limits are involved.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tosguard import files
from tosguard.engine import library
from tosguard.errors import UsageError

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = ROOT / "examples"
AS_OF = "2026-11-22"
TIMEOUT = 120
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

POLICY = (
    'policy mine {\n  provider openai\n  document "Mine"\n  service api\n'
    '  effective 2020-01-01\n  url "https://example.org"\n'
    "  clause any-openai {\n    topic distillation\n    kind prohibition\n"
    '    when source.records > 0\n    cite { section "1" quote "q" }\n  }\n}\n'
)
UNFORMATTED = 'set s={"a","b"}  # keep me\n'
FORMATTED = 'set s = {"a", "b"}  # keep me\n'
OLD_REPORT = b'{"old": "report", "valid": true}\n'


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory for the whole module, so the parser tables are built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A manifest, a policy directory and a policy test, as a user's project holds them."""
    shutil.copy(EXAMPLES / "internal-classifier.yaml", tmp_path / "m.yaml")
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "mine.tos").write_text(POLICY, encoding="utf-8")
    (tmp_path / "pol" / "tests").mkdir()
    (tmp_path / "pol" / "tests" / "t.yaml").write_text(
        textwrap.dedent("""\
        description: mine fires on any OpenAI source
        as_of: 2026-01-01
        manifest_file: ../../m.yaml
        must:
          - {clause: mine/any-openai, status: violated}
        """),
        encoding="utf-8",
    )
    return tmp_path


def tosguard(
    *args: str,
    cwd: Path,
    cache: Path,
    stdin: bytes | None = None,
    limit: int | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess:
    def before() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        if umask is not None:
            os.umask(umask)

    environment = {**os.environ, "NO_COLOR": "1", "TOSGUARD_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=TIMEOUT,
        preexec_fn=before if limit is not None or umask is not None else None,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (symlinks as their target's name) and its bytes."""
    found = {}
    for path in sorted(directory.rglob("*")):
        name = str(path.relative_to(directory))
        if path.is_symlink():
            found[name] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            found[name] = path.read_bytes()
    return found


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


# ---- item 7: --output never overwrites an input -----------------------------------------------
@pytest.mark.parametrize(
    "spelling",
    [
        "m.yaml",
        "./m.yaml",
        "sub/../m.yaml",
        "link.yaml",
        "sub/link-up.yaml",
        "hard.yaml",
        "{abs}/m.yaml",
    ],
)
def test_output_that_is_the_manifest_is_refused(work: Path, cache: Path, spelling: str) -> None:
    (work / "sub").mkdir()
    (work / "link.yaml").symlink_to("m.yaml")
    (work / "sub" / "link-up.yaml").symlink_to("../m.yaml")
    os.link(work / "m.yaml", work / "hard.yaml")
    before = snapshot(work)
    output = spelling.format(abs=work)
    result = tosguard(
        "check",
        "m.yaml",
        "--policies",
        "pol",
        "--format",
        "json",
        "-o",
        output,
        cwd=work,
        cache=cache,
    )
    assert result.returncode == 2
    assert "error[usage-output-is-input]" in result.stderr.decode()
    assert "help: write the output to another file" in result.stderr.decode()
    assert result.stdout == b""
    assert snapshot(work) == before


def test_dot_dot_through_a_missing_directory_is_not_resolved_as_text(
    work: Path, cache: Path
) -> None:
    """`missing/../link.yaml` does not exist for the kernel; read as text it is `link.yaml`,
    the manifest. The write must fail as `open` would, not land on the manifest."""
    (work / "link.yaml").symlink_to("m.yaml")
    before = snapshot(work)
    result = tosguard(
        "check", "m.yaml", "--policies", "pol", "-o", "missing/../link.yaml", cwd=work, cache=cache
    )
    assert result.returncode == 2
    assert "error[usage-output]: cannot write `missing/../link.yaml`" in result.stderr.decode()
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "command,output",
    [
        (["check", "m.yaml", "--policies", "pol"], "pol/mine.tos"),
        (["check", "m.yaml", "--policies", "pol", "--format", "sarif"], "pol/mine.tos"),
        (["check", "m.yaml", "--extra-policies", "pol"], "pol/mine.tos"),
        (["policies", "--policies", "pol", "--format", "json"], "pol/mine.tos"),
        (["policies", "--policies", "pol", "--matrix"], "pol/mine.tos"),
        (["explain", "m.yaml", "--clause", "mine/any-openai", "--policies", "pol"], "m.yaml"),
        (["diff", "pol/mine.tos", "pol/mine.tos"], "pol/mine.tos"),
        (["diff", "pol", "pol", "--manifests", "."], "m.yaml"),
        (["test", "pol"], "pol/tests/t.yaml"),
        (["test", "pol"], "m.yaml"),  # named by the test's manifest_file only
        (["test", "pol"], "pol/mine.tos"),
    ],
)
def test_every_command_refuses_to_overwrite_its_inputs(
    work: Path, cache: Path, command: list[str], output: str
) -> None:
    before = snapshot(work)
    result = tosguard(*command, "--output", output, cwd=work, cache=cache)
    assert result.returncode == 2, result.stderr.decode()
    assert "usage-output-is-input" in result.stderr.decode()
    assert snapshot(work) == before


@pytest.mark.parametrize(
    "command",
    [
        ["check", "m.yaml", "--policies", "pol", "--format", "json"],
        ["policies", "--policies", "pol", "--format", "json"],
        ["policies", "--policies", "pol"],
        ["schema"],
        ["explain", "m.yaml", "--clause", "mine/any-openai", "--policies", "pol"],
        ["diff", "pol", "pol"],
        ["test", "pol"],
    ],
)
def test_every_command_writes_its_output_file_and_nothing_else(
    work: Path, cache: Path, command: list[str]
) -> None:
    """`policies` without `--matrix` used to print to standard output and ignore `-o`."""
    (work / "out.txt").write_bytes(OLD_REPORT)
    os.chmod(work / "out.txt", 0o640)
    result = tosguard(*command, "-o", "out.txt", cwd=work, cache=cache)
    assert result.returncode in (0, 1), result.stderr.decode()
    assert result.stdout == b""
    assert (work / "out.txt").read_bytes() not in (b"", OLD_REPORT)
    assert stat.S_IMODE((work / "out.txt").stat().st_mode) == 0o640
    assert temporaries(work) == []


def test_a_new_output_file_gets_the_umask_mode(work: Path, cache: Path) -> None:
    result = tosguard("schema", "-o", "new.json", cwd=work, cache=cache, umask=0o027)
    assert result.returncode == 0
    assert stat.S_IMODE((work / "new.json").stat().st_mode) == 0o640
    json.loads((work / "new.json").read_text(encoding="utf-8"))


def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(
    work: Path, cache: Path
) -> None:
    (work / "reports").mkdir()
    (work / "reports" / "r.json").write_bytes(OLD_REPORT)
    (work / "latest.json").symlink_to("reports/r.json")
    result = tosguard("schema", "-o", "latest.json", cwd=work, cache=cache)
    assert result.returncode == 0
    assert (work / "latest.json").is_symlink()
    assert json.loads((work / "reports" / "r.json").read_text(encoding="utf-8"))["title"]


def test_output_to_a_pipe_is_written_into_not_replaced(work: Path, cache: Path) -> None:
    """A FIFO (like a device) cannot be renamed over: it is written straight into."""
    import threading

    fifo = work / "pipe.json"
    os.mkfifo(fifo)
    received = []

    def read() -> None:
        with open(fifo, "rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = tosguard("schema", "-o", "pipe.json", cwd=work, cache=cache)
    reader.join(timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(received[0])["title"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def run_with_stdout(work: Path, cache: Path, stdout: Path, *args: str):
    environment = {**os.environ, "NO_COLOR": "1", "TOSGUARD_CACHE_DIR": str(cache)}
    with open(stdout, "ab") as stream:
        return subprocess.run(
            [sys.executable, "-m", "tosguard", *args],
            cwd=work,
            stdout=stream,
            stderr=subprocess.PIPE,
            env=environment,
            timeout=TIMEOUT,
        )


def test_output_through_proc_fd_links_is_written_into_not_replaced(work: Path, cache: Path) -> None:
    """`-o /dev/stdout` (here a link of our own to `/proc/self/fd/1`, so that a regression
    could only damage `tmp_path`): the link names an open file, not a path to replace. Once,
    `/dev/stdout` itself was replaced by a regular file. Standard output behind `>>` keeps
    what it held."""
    (work / "stdout.json").symlink_to("/proc/self/fd/1")
    log = work / "log.txt"
    log.write_bytes(b"earlier\n")
    result = run_with_stdout(work, cache, log, "schema", "-o", "stdout.json")
    assert result.returncode == 0, result.stderr.decode()
    assert os.readlink(work / "stdout.json") == "/proc/self/fd/1"
    earlier, schema = log.read_bytes().split(b"\n", 1)
    assert earlier == b"earlier" and json.loads(schema)["title"]


def test_output_through_proc_fd_links_to_an_input_is_refused(work: Path, cache: Path) -> None:
    """`check m.yaml -o /dev/stdout >> m.yaml`: standard output is the manifest."""
    (work / "stdout.json").symlink_to("/proc/self/fd/1")
    before = (work / "m.yaml").read_bytes()
    result = run_with_stdout(
        work, cache, work / "m.yaml", "check", "m.yaml", "--policies", "pol", "-o", "stdout.json"
    )
    assert result.returncode == 2
    assert b"usage-output-is-input" in result.stderr
    assert (work / "m.yaml").read_bytes() == before


# ---- item 7: the write is atomic --------------------------------------------------------------
def test_file_size_limit_leaves_the_old_report(work: Path, cache: Path) -> None:
    """RLIMIT_FSIZE 4096: the 11 KB schema cannot be written; the valid old report stays."""
    (work / "report.json").write_bytes(OLD_REPORT)
    result = tosguard("schema", "-o", "report.json", cwd=work, cache=cache, limit=4096)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert (
        "error[usage-output]: cannot write `report.json`: File too large; it was left as "
        "it was" in message
    )
    assert "help: the output is larger than the file-size limit" in message
    assert (work / "report.json").read_bytes() == OLD_REPORT
    assert temporaries(work) == []


def test_file_size_limit_on_a_report_and_on_the_caches(
    work: Path, cache: Path, tmp_path_factory
) -> None:
    """Under the limit the compiled-library cache cannot be written either: that is quiet."""
    fresh = tmp_path_factory.mktemp("fresh-cache")
    (work / "report.json").write_bytes(OLD_REPORT)
    result = tosguard(
        "check",
        str(EXAMPLES / "acme.yaml"),
        "--format",
        "json",
        "--as-of",
        AS_OF,
        "-o",
        "report.json",
        cwd=work,
        cache=fresh,
        limit=4096,
    )
    assert result.returncode == 2
    assert result.stderr.decode().count("error[") == 1
    assert "File too large" in result.stderr.decode()
    assert (work / "report.json").read_bytes() == OLD_REPORT
    assert temporaries(work) == [] and temporaries(fresh) == []


STALL = textwrap.dedent("""\
    import os, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive start
    real_fsync = os.fsync
    stalled = []

    def stall(fd):
        if not stalled:  # the first fsync: the new content is written, not yet in place
            stalled.append(fd)
            os.write(1, b"writing\\n")
            sys.stdin.readline()  # until the test says go (or a signal interrupts)
        real_fsync(fd)

    os.fsync = stall
    from tosguard.cli import main
    main(sys.argv[1:])
    """)


def stalled_run(cwd: Path, cache: Path, *args: str) -> subprocess.Popen:
    """Run the CLI with its first fsync held until the test writes a line to its stdin; returns
    once the process says it is there."""
    environment = {**os.environ, "NO_COLOR": "1", "TOSGUARD_CACHE_DIR": str(cache)}
    process = subprocess.Popen(
        [sys.executable, "-c", STALL, *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=TIMEOUT)
    line = process.stdout.readline() if ready else b""
    if line != b"writing\n":
        process.kill()
        _, error = process.communicate(timeout=TIMEOUT)
        pytest.fail(f"the CLI never reached the write: {error.decode()}")
    return process


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("existing", [True, False])
def test_signal_during_the_write_keeps_the_old_file(
    work: Path, cache: Path, signum: int, status: int, existing: bool
) -> None:
    if existing:
        (work / "report.json").write_bytes(OLD_REPORT)
    process = stalled_run(work, cache, "schema", "-o", "report.json")
    assert len(temporaries(work)) == 1  # caught in the middle of the write
    process.send_signal(signum)
    _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == status, error.decode()
    assert b"Traceback" not in error
    assert temporaries(work) == []
    if existing:
        assert (work / "report.json").read_bytes() == OLD_REPORT
    else:
        assert not (work / "report.json").exists()


def test_sigterm_during_fmt_keeps_the_old_file(work: Path, cache: Path) -> None:
    path = work / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    process = stalled_run(work, cache, "fmt", "p.tos")
    process.send_signal(signal.SIGTERM)
    _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 143, error.decode()
    assert path.read_text(encoding="utf-8") == UNFORMATTED
    assert temporaries(work) == []


def test_sigterm_during_an_in_place_rewrite_waits_for_the_whole_text(
    work: Path, cache: Path
) -> None:
    """A hard-linked file is rewritten in place with SIGTERM held off: the signal lands after
    the write, and the file holds the whole new text, never a part."""
    path = work / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    os.link(path, work / "other-name.tos")
    process = stalled_run(work, cache, "fmt", "p.tos")
    process.send_signal(signal.SIGTERM)
    assert process.stdin is not None
    process.stdin.write(b"go\n")
    process.stdin.flush()
    _, error = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 143, error.decode()
    assert path.read_text(encoding="utf-8") == FORMATTED
    assert path.stat().st_nlink == 2


def test_write_failure_removes_the_temporary_and_keeps_the_file(
    tmp_path: Path, monkeypatch
) -> None:
    """ENOSPC at fsync (a full disk seen late, as on NFS): the old file stays, no debris."""
    target = tmp_path / "report.json"
    target.write_bytes(OLD_REPORT)

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(UsageError) as caught:
        files.write_output(str(target), b"{}" * 100_000)
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "usage-output" and "No space left" in diagnostic.message
    assert diagnostic.help.startswith("free some space")
    assert target.read_bytes() == OLD_REPORT
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize(
    "output,reason",
    [
        ("missing/report.json", "No such file"),
        ("pol", "Is a directory"),
        ("pol/", "Is a directory"),
        ("m.yaml/x.json", "Not a directory"),
    ],
)
def test_unwritable_outputs_are_diagnostics(
    work: Path, cache: Path, output: str, reason: str
) -> None:
    result = tosguard("schema", "-o", output, cwd=work, cache=cache)
    assert result.returncode == 2
    message = result.stderr.decode()
    assert f"error[usage-output]: cannot write `{output}`: {reason}" in message
    assert "= help: " in message


# ---- item 7: an invalid manifest means no report ----------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown", "text"])
def test_an_invalid_manifest_among_several_writes_no_report(
    work: Path, cache: Path, fmt: str
) -> None:
    (work / "bad.yaml").write_text("tosguard: 1\nbogus: 1\n", encoding="utf-8")
    (work / "report.out").write_bytes(OLD_REPORT)
    result = tosguard(
        "check",
        "m.yaml",
        "bad.yaml",
        "--policies",
        "pol",
        "--format",
        fmt,
        "-o",
        "report.out",
        cwd=work,
        cache=cache,
    )
    assert result.returncode == 2
    assert (work / "report.out").read_bytes() == OLD_REPORT
    assert "bad.yaml:2:1" in result.stderr.decode()
    assert "no report written to `report.out`: 1 of 2 manifests invalid" in result.stderr.decode()
    (work / "report.out").unlink()
    result = tosguard(
        "check",
        "bad.yaml",
        "m.yaml",
        "--policies",
        "pol",
        "--format",
        fmt,
        "-o",
        "report.out",
        cwd=work,
        cache=cache,
    )
    assert result.returncode == 2 and not (work / "report.out").exists()


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "markdown"])
def test_an_invalid_manifest_means_no_machine_report_on_stdout(
    work: Path, cache: Path, fmt: str
) -> None:
    (work / "bad.yaml").write_text("tosguard: 1\nbogus: 1\n", encoding="utf-8")
    result = tosguard(
        "check",
        "m.yaml",
        "bad.yaml",
        "--policies",
        "pol",
        "--format",
        fmt,
        "--error-format",
        "json",
        cwd=work,
        cache=cache,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert json.loads(result.stderr)["errors"][0]["code"] == "manifest-missing-key"


def test_an_invalid_manifest_still_shows_the_text_reports_of_the_others(
    work: Path, cache: Path
) -> None:
    (work / "bad.yaml").write_text("tosguard: 1\nbogus: 1\n", encoding="utf-8")
    result = tosguard("check", "m.yaml", "bad.yaml", "--policies", "pol", cwd=work, cache=cache)
    assert result.returncode == 2
    assert result.stdout.decode().startswith("NON-COMPLIANT  m.yaml")


# ---- item 8: fmt changes only the layout ------------------------------------------------------
@pytest.mark.parametrize("mode", [0o600, 0o755, 0o640, 0o444])
def test_fmt_keeps_the_mode(tmp_path: Path, cache: Path, mode: int) -> None:
    path = tmp_path / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    os.chmod(path, mode)
    result = tosguard("fmt", "p.tos", cwd=tmp_path, cache=cache)
    assert result.returncode == (0 if IS_ROOT or mode & 0o200 else 2), result.stderr.decode()
    if result.returncode == 0:
        assert path.read_text(encoding="utf-8") == FORMATTED
    assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")
def test_fmt_keeps_the_owner(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    os.chown(path, 4321, 4322)
    assert tosguard("fmt", "p.tos", cwd=tmp_path, cache=cache).returncode == 0
    assert path.read_text(encoding="utf-8") == FORMATTED
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)


def test_fmt_formats_a_symlinks_target_and_keeps_the_link(tmp_path: Path, cache: Path) -> None:
    """Decision: a symlink found in a directory is followed even when its target lies outside
    that directory (the library loader reads it through the link too); the message says
    where it leads."""
    (tmp_path / "pol").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "s.tos").write_text(UNFORMATTED, encoding="utf-8")
    (tmp_path / "pol" / "s.tos").symlink_to("../shared/s.tos")
    (tmp_path / "named.tos").symlink_to("shared/s.tos")
    result = tosguard("fmt", "pol", "named.tos", cwd=tmp_path, cache=cache)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "pol" / "s.tos").is_symlink() and (tmp_path / "named.tos").is_symlink()
    assert (tmp_path / "shared" / "s.tos").read_text(encoding="utf-8") == FORMATTED
    message = result.stderr.decode()
    assert "reformatted pol/s.tos (symlink to `" in message
    assert "1 file reformatted, 0 unchanged" in message  # one file, reached twice


def test_fmt_keeps_hard_links(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    os.link(path, tmp_path / "q.tos")
    inode = path.stat().st_ino
    result = tosguard("fmt", "p.tos", cwd=tmp_path, cache=cache)
    assert result.returncode == 0
    assert path.stat().st_ino == inode and path.stat().st_nlink == 2
    assert (tmp_path / "q.tos").read_text(encoding="utf-8") == FORMATTED
    assert temporaries(tmp_path) == []


def test_in_place_rewrite_puts_the_old_text_back_when_the_write_fails(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "p.tos"
    path.write_bytes(b"x" * 10)
    before = os.stat(path)
    real_pwrite = os.pwrite
    calls = []

    def failing(fd: int, data, offset: int) -> int:
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_pwrite(fd, bytes(data[:4]), offset)  # short writes: several calls

    monkeypatch.setattr(files.os, "pwrite", failing)
    with pytest.raises(OSError):
        files.rewrite_in_place(path, b"y" * 40, b"x" * 10, expect=before)
    monkeypatch.setattr(files.os, "pwrite", real_pwrite)
    assert path.read_bytes() == b"x" * 10


@pytest.mark.parametrize(
    "data,byte,where",
    [
        (b'set s = {"caf\xe9"}\n', "e9", "1:14"),
        (b'set t = {"a"}\nset s = {"\xff"}\n', "ff", "2:11"),
    ],
)
def test_fmt_decodes_stdin_as_it_decodes_files(
    tmp_path: Path, cache: Path, data: bytes, byte: str, where: str
) -> None:
    """`fmt -` used to accept invalid UTF-8 and write `"caf\\udce9"`."""
    from_stdin = tosguard("fmt", "-", cwd=tmp_path, cache=cache, stdin=data)
    (tmp_path / "p.tos").write_bytes(data)
    from_file = tosguard("fmt", "p.tos", cwd=tmp_path, cache=cache)
    assert from_stdin.returncode == from_file.returncode == 2
    assert from_stdin.stdout == b""
    assert f"error[policy-encoding]: invalid UTF-8 byte `0x{byte}`" in from_stdin.stderr.decode()
    assert f"--> <stdin>:{where}" in from_stdin.stderr.decode()
    assert f"--> p.tos:{where}" in from_file.stderr.decode()
    assert "help: save the file as UTF-8" in from_stdin.stderr.decode()
    assert (tmp_path / "p.tos").read_bytes() == data


def test_fmt_keeps_a_bom_on_stdin_and_in_files(tmp_path: Path, cache: Path) -> None:
    """A BOM used to be refused on stdin and dropped from files; now both accept and keep it."""
    data = b"\xef\xbb\xbf" + UNFORMATTED.encode()
    from_stdin = tosguard("fmt", "-", cwd=tmp_path, cache=cache, stdin=data)
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    assert from_stdin.stdout == b"\xef\xbb\xbf" + FORMATTED.encode()
    path = tmp_path / "p.tos"
    path.write_bytes(data)
    assert tosguard("fmt", "p.tos", cwd=tmp_path, cache=cache).returncode == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + FORMATTED.encode()
    again = tosguard("fmt", "--check", "p.tos", cwd=tmp_path, cache=cache)
    assert (
        again.returncode == 0
        and "0 files would be reformatted, 1 unchanged" in again.stderr.decode()
    )


def test_fmt_check_and_diff_on_stdin(tmp_path: Path, cache: Path) -> None:
    data = UNFORMATTED.encode()
    checked = tosguard("fmt", "--check", "-", cwd=tmp_path, cache=cache, stdin=data)
    assert checked.returncode == 1 and checked.stdout == b""
    shown = tosguard("fmt", "--diff", "-", cwd=tmp_path, cache=cache, stdin=data)
    assert shown.returncode == 1 and b'+set s = {"a", "b"}' in shown.stdout
    clean = tosguard("fmt", "--check", "-", cwd=tmp_path, cache=cache, stdin=FORMATTED.encode())
    assert clean.returncode == 0


@pytest.mark.parametrize("flag", ["--check", "--diff"])
def test_fmt_check_and_diff_never_write(tmp_path: Path, cache: Path, flag: str) -> None:
    path = tmp_path / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    before = os.stat(path)
    result = tosguard("fmt", flag, "p.tos", cwd=tmp_path, cache=cache)
    assert result.returncode == 1
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert os.listdir(tmp_path) == ["p.tos"]


def test_fmt_never_writes_a_file_that_fails_to_parse(tmp_path: Path, cache: Path) -> None:
    broken = {
        "syntax.tos": b"policy p { efective 2024-01-01 }\n",
        "encoding.tos": b'set s={"caf\xe9"}\n',
        "nul.tos": b'set s={"a"}\x00\n',
    }
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
    result = tosguard("fmt", ".", cwd=tmp_path, cache=cache)
    assert result.returncode == 2
    for name, data in broken.items():
        assert (tmp_path / name).read_bytes() == data
    assert temporaries(tmp_path) == []


def test_fmt_refuses_a_file_changed_while_it_was_formatted(tmp_path: Path, monkeypatch) -> None:
    from tosguard.language import printer as fmt

    path = tmp_path / "p.tos"
    path.write_text(UNFORMATTED, encoding="utf-8")
    real = fmt.format_text

    def meanwhile(text: str, display: str) -> str:
        formatted = real(text, display)
        path.write_text("# an edit made meanwhile\n" + UNFORMATTED, encoding="utf-8")
        return formatted

    monkeypatch.setattr(fmt, "format_text", meanwhile)
    [result] = fmt.format_paths([str(path)], write=True)
    assert [d.code for d in result.diagnostics] == ["policy-io"]
    assert "changed since it was read" in result.diagnostics[0].message
    assert path.read_text(encoding="utf-8").startswith("# an edit made meanwhile")


def test_fmt_does_not_hang_on_a_fifo(tmp_path: Path, cache: Path) -> None:
    os.mkfifo(tmp_path / "pipe.tos")
    result = tosguard("fmt", ".", cwd=tmp_path, cache=cache)
    assert result.returncode == 2
    assert "cannot read `./pipe.tos`: not a regular file" in result.stderr.decode()


# ---- caches: never written through a planted symlink ------------------------------------------
def test_library_cache_is_not_written_through_a_planted_symlink(
    tmp_path: Path, monkeypatch
) -> None:
    """The temporary name used to be predictable (`library-<revision>.<pid>.tmp`) and was
    opened following symlinks: a link planted there redirected the write into any file."""
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    monkeypatch.setenv("TOSGUARD_CACHE_DIR", str(directory))
    for name in ("library-abc.pickle", f"library-abc.{os.getpid()}.tmp"):
        (directory / name).symlink_to(victim)
    library._write_cache("abc", [])
    assert victim.read_bytes() == b"precious\n"
    assert not (directory / "library-abc.pickle").is_symlink()
    assert library._read_cache("abc") == []


def test_library_cache_is_not_read_through_a_symlink(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere.pickle"
    elsewhere.write_bytes(__import__("pickle").dumps(["planted"]))
    (directory / "library-abc.pickle").symlink_to(elsewhere)
    monkeypatch.setenv("TOSGUARD_CACHE_DIR", str(directory))
    assert library._read_cache("abc") is None


@pytest.mark.skipif(not IS_ROOT, reason="a directory of another user needs root to make")
def test_a_cache_directory_of_another_user_is_not_used(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chown(directory, 4321, 4321)
    monkeypatch.setenv("TOSGUARD_CACHE_DIR", str(directory))
    library._write_cache("abc", [])
    assert os.listdir(directory) == []


def test_a_cache_directory_writable_by_others_is_made_private(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o777)
    monkeypatch.setenv("TOSGUARD_CACHE_DIR", str(directory))
    library._write_cache("abc", [])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    assert stat.S_IMODE((directory / "library-abc.pickle").stat().st_mode) == 0o600


def test_parser_cache_is_not_written_through_a_planted_symlink(tmp_path: Path) -> None:
    """Lark writes its table cache with a plain `open(…, 'wb')`: a symlink planted at
    `grammar.lark.cache` redirected that write into any file."""
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    (directory / "grammar.lark.cache").symlink_to(victim)
    result = tosguard("fmt", "-", cwd=tmp_path, cache=directory, stdin=FORMATTED.encode())
    assert result.returncode == 0 and result.stdout == FORMATTED.encode()
    assert victim.read_bytes() == b"precious\n"
