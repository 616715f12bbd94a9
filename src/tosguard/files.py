"""Writing files without destroying data: every file tosguard writes goes through here.

* :func:`refuse_input_as_output` — an output that is the same file as one of the command's
  inputs (same device and inode, so through symlinks, hard links and ``..`` too) is a usage
  error, raised before the output is opened.
* :func:`write_atomically` — the new content goes to a temporary file in the target's directory
  (a fresh name created with ``O_EXCL``, mode 0600 until complete), is flushed and fsync'ed,
  takes the mode (and, where permitted, the owner) of the file it replaces, and is renamed over
  it. Whatever goes wrong — a full disk, a file-size limit, a permission, ``SIGINT`` or
  ``SIGTERM`` (which the CLI turns into exceptions) — the temporary file is removed and the old
  file is left as it was.
* :func:`rewrite` — for a file the user edits (``fmt``): atomically when that keeps everything
  but the text; when a rename would split hard links or lose the owner, by
  :func:`rewrite_in_place`: the new text, complete in memory, is written over the old one with
  the space reserved first and ``SIGINT``/``SIGTERM`` held off until it is done. That one case
  is not atomic against a crash or a power cut.
* :func:`private_dir`, :func:`read_private` and :func:`write_private` — the per-user cache:
  used only when the directory belongs to the user and nobody else can write to it, written
  atomically, never read or written through a symlink.

Failures are :class:`OSError`; :func:`write_failure` turns one into a diagnostic with a help
line. The module imports nothing heavy: ``tosguard check`` imports it at write time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import Diagnostic, Span, UsageError

_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


# ---- inputs -----------------------------------------------------------------------------------
def tree(
    paths: Iterable[str | os.PathLike[str]], suffixes: tuple[str, ...], *, recursive: bool = True
) -> Iterator[Path]:
    """The files a command reads from ``paths``: each file as given, and for a directory the
    files under it (or directly in it) with one of ``suffixes``. Paths that do not exist are
    skipped (the command itself reports them)."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for suffix in suffixes:
                yield from (path.rglob if recursive else path.glob)("*" + suffix)
        else:
            yield path


def refuse_input_as_output(
    output: str, inputs: Iterable[str | os.PathLike[str]], option: str = "--output"
) -> None:
    """Raise :class:`UsageError` (``usage-output-is-input``) when ``output`` is one of
    ``inputs``: the same file by device and inode, as the kernel resolves both paths (so through
    symlinks, hard links, ``..`` and ``/dev/stdout`` redirected to an input). Only metadata is
    read; the output is not opened. An output that does not exist yet cannot be an input.
    ``inputs`` is consumed only when the output exists."""
    try:
        wanted = os.stat(output)
    except (OSError, ValueError):
        return
    for given in inputs:
        try:
            found = os.stat(given)
        except (OSError, ValueError):
            continue
        if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
            same = "" if os.fspath(given) == output else f" (`{os.fspath(given)}`)"
            raise UsageError(
                Diagnostic(
                    "usage-output-is-input",
                    f"`{option} {output}` would overwrite an input of this command{same}",
                    Span(output),
                    "write the output to another file: tosguard never overwrites a file it reads",
                )
            )


def resolve(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> str | None:
    """The absolute path of the file that writing ``path`` replaces, resolved as the kernel
    resolves it: symlinks first, then ``..`` (``missing/../x`` fails as ``open`` would, where a
    textual normalisation would land on ``x``); a symlink as the last component is followed
    (with ``follow_symlinks``) to the file it names, which may not exist yet.

    ``None`` when the path is no plain file path: it goes through ``/proc`` (``/dev/stdout``,
    ``/dev/fd/N``, whose links name open files, pipes and terminals), or the kernel finds a
    different file there than the link text names. Such a path cannot be replaced by renaming;
    it is written into. Raises :class:`OSError` when a directory on the way is missing or not
    one, or on a symlink loop."""
    text = os.fspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        head, name = os.path.split(text)
        if name in ("", ".", ".."):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        directory = os.path.realpath(head or os.curdir, strict=True)
        if not os.path.isdir(directory):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), os.fspath(path))
        if directory == "/proc" or directory.startswith("/proc/"):
            return None
        candidate = os.path.join(directory, name)
        if not follow_symlinks or not os.path.islink(candidate):
            break
        text = os.path.join(directory, os.readlink(candidate))
    else:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))
    if follow_symlinks:
        try:
            seen = os.stat(path)
        except FileNotFoundError:
            return candidate
        try:
            found = os.stat(candidate)
        except FileNotFoundError:
            return None
        if (found.st_dev, found.st_ino) != (seen.st_dev, seen.st_ino):
            return None
    return candidate


# ---- writing ----------------------------------------------------------------------------------
def write_output(
    output: str,
    data: bytes | Iterable[bytes],
    inputs: Iterable[str | os.PathLike[str]] = (),
    option: str = "--output",
) -> None:
    """Write a command's output file: refuse an input, then write atomically (or straight
    into a device or pipe such as ``/dev/stdout``). ``data`` may come in pieces, each written
    as it is made. Raises :class:`UsageError`."""
    refuse_input_as_output(output, inputs, option)
    try:
        write_atomically(output, data)
    except OSError as error:
        raise UsageError(write_failure(output, error, "usage-output")) from None


def write_atomically(
    path: str | os.PathLike[str],
    data: bytes | Iterable[bytes],
    *,
    follow_symlinks: bool = True,
    expect: os.stat_result | None = None,
    mode: int | None = None,
) -> None:
    """Replace the file at ``path`` with ``data`` (bytes, or pieces of bytes written one by
    one), atomically.

    With ``follow_symlinks`` (the default) a symlink at ``path`` stays a link and the file it
    points to is replaced; without, the link itself is replaced. An existing file keeps its
    permission bits and, where the user may set them, its owner and group; a new file gets
    ``mode`` (default 0666 less the umask). ``expect``: the status of the file when it was read;
    if it has changed since, nothing is written (``EAGAIN``). Something that exists and is not
    a regular file (``/dev/stdout``, a pipe) is written straight into when ``follow_symlinks``
    (it cannot be replaced), and replaced otherwise.
    """
    target = resolve(path, follow_symlinks=follow_symlinks)
    if target is None:  # /dev/stdout and the like
        _write_stream(os.fspath(path), data)
        return
    try:
        current: os.stat_result | None = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        current = None
    if current is not None and stat.S_ISDIR(current.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    if follow_symlinks and current is not None and not stat.S_ISREG(current.st_mode):
        _write_stream(target, data)  # a device or a pipe the user named: it cannot be renamed
        return
    _check_unchanged(current, expect, path)
    if follow_symlinks and current is not None and not os.access(target, os.W_OK):
        # a rename would succeed, but the user made the file read-only: honour that
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
    import tempfile

    directory, name = os.path.split(target)
    temporary: str | None = None
    handle: int | None = None
    try:
        with hold_signals():  # the name is known before a signal can strike
            handle, temporary = tempfile.mkstemp(
                prefix=f".{name[:200]}.", suffix=".tmp", dir=directory
            )
        if isinstance(data, bytes):
            _write_all(handle, data)
        else:
            for piece in data:
                _write_all(handle, piece)
        os.fsync(handle)
        if current is not None and stat.S_ISREG(current.st_mode):
            bits = stat.S_IMODE(current.st_mode)
            if not _keep_owner(handle, current):  # set-id bits only with their owner
                bits &= ~(stat.S_ISUID | stat.S_ISGID)
            os.fchmod(handle, bits)
        else:
            os.fchmod(handle, mode if mode is not None else 0o666 & ~_umask())
        os.close(handle)
        handle = None
        if expect is not None:
            _check_unchanged(_stat_or_none(target), expect, path)
        os.replace(temporary, target)
        temporary = None
    finally:
        with hold_signals():
            if handle is not None:
                os.close(handle)
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
    _sync_directory(directory)


def rewrite_in_place(
    path: str | os.PathLike[str],
    data: bytes,
    original: bytes,
    *,
    expect: os.stat_result | None = None,
) -> None:
    """Write ``data`` over the file at ``path`` (which holds ``original``), keeping its inode:
    its hard links, owner, mode and extended attributes stay as they are.

    The space is reserved before the first byte changes (a full disk or a file-size limit
    fails with the file untouched) and ``SIGINT``/``SIGTERM`` wait until the write is done. A
    write that still fails half-way puts the original bytes back. Unlike
    :func:`write_atomically`, a crash or power cut during the write can leave a mix.
    """
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    with hold_signals():
        target = resolve(path)
        if target is None:
            raise OSError(errno.EINVAL, "not a plain file path", os.fspath(path))
        handle = os.open(target, flags)
        try:
            current = os.fstat(handle)
            _check_unchanged(current, expect, path)
            if _read_all(handle) != original:
                raise BlockingIOError(
                    errno.EAGAIN, "the file changed since it was read", os.fspath(path)
                )
            started = False
            try:
                if len(data) > current.st_size:
                    _reserve(handle, len(data))
                started = True
                _write_all(handle, data, at=0)
                os.ftruncate(handle, len(data))
                os.fsync(handle)
            except BaseException:
                with contextlib.suppress(OSError):
                    if started:
                        _write_all(handle, original, at=0)
                    os.ftruncate(handle, current.st_size)
                raise
        finally:
            os.close(handle)


def rewrite(
    path: str | os.PathLike[str], data: bytes, original: bytes, *, expect: os.stat_result
) -> None:
    """Replace a file the user edits (``fmt``), keeping what is not its text: atomically, by
    :func:`write_atomically`, unless renaming would lose something — hard links (more than one
    link), or an owner or group the user may not give to a new file — in which case it is
    rewritten in place by :func:`rewrite_in_place` (the rule editors such as Vim follow)."""
    if expect.st_nlink > 1 or not can_keep_owner(expect):
        rewrite_in_place(path, data, original, expect=expect)
    else:
        write_atomically(path, data, expect=expect)


def can_keep_owner(found: os.stat_result) -> bool:
    """Whether a new file can be given ``found``'s owner and group by this user."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return True
    return found.st_uid == os.geteuid() and (
        found.st_gid == os.getegid() or found.st_gid in os.getgroups()
    )


def write_failure(path: str | os.PathLike[str], error: OSError, code: str) -> Diagnostic:
    """The diagnostic for a write that failed and left the old file as it was."""
    reason = error.strerror or str(error)
    helps = {
        errno.EFBIG: "the output is larger than the file-size limit (`ulimit -f`) allows",
        errno.ENOSPC: "free some space on the device, or write the output elsewhere",
        errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
        errno.EACCES: "check the permissions of the file and of its directory",
        errno.EPERM: "check the permissions of the file and of its directory",
        errno.EROFS: "the file system is read-only; write the output elsewhere",
        errno.ENOENT: "check that the directory exists",
        errno.ENOTDIR: "check that the directory exists",
        errno.EISDIR: "name a file, not a directory",
        errno.EAGAIN: "another program changed the file meanwhile; run the command again",
    }
    help = helps.get(error.errno or 0, "check that the directory exists and is writable")
    kept = "; it was left as it was" if os.path.lexists(path) else ""
    return Diagnostic(
        code, f"cannot write `{os.fspath(path)}`: {reason}{kept}", Span(os.fspath(path)), help
    )


@contextlib.contextmanager
def hold_signals() -> Iterator[None]:
    """Hold ``SIGINT`` and ``SIGTERM`` off for the block (in the main thread, where Python
    runs signal handlers); one that arrives meanwhile is delivered when it ends."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ---- the per-user cache -----------------------------------------------------------------------
def private_dir(path: Path, *, create: bool = True) -> Path | None:
    """``path`` when it is a directory of this user's that no one else may write to (created
    with mode 0700 when missing; write access for group and others removed when it is the
    user's); otherwise ``None``, and no cache is used."""
    try:
        if create:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = os.stat(path)
        if not stat.S_ISDIR(found.st_mode) or (
            hasattr(os, "geteuid") and found.st_uid != os.geteuid()
        ):
            return None
        if found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            os.chmod(path, stat.S_IMODE(found.st_mode) & ~(stat.S_IWGRP | stat.S_IWOTH))
    except OSError:
        return None
    return path


def private_file(path: Path) -> bool:
    """Whether ``path`` may be used as a cache file: missing, or a regular file of this user's
    (not a symlink)."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and (
        not hasattr(os, "geteuid") or found.st_uid == os.geteuid()
    )


def read_private(path: Path, limit: int | None = None) -> bytes | None:
    """The content of a cache file, or ``None`` if it is missing, is a symlink or anything but
    a regular file, or belongs to someone else."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        return None
    try:
        found = os.fstat(handle)
        if not stat.S_ISREG(found.st_mode) or (
            hasattr(os, "geteuid") and found.st_uid != os.geteuid()
        ):
            return None
        with os.fdopen(os.dup(handle), "rb") as stream:
            return stream.read() if limit is None else stream.read(limit)
    except OSError:
        return None
    finally:
        os.close(handle)


def write_private(path: Path, data: bytes) -> bool:
    """Write a cache file atomically, mode 0600, replacing whatever is at ``path`` (a planted
    symlink is replaced, not followed). Failures are quiet: returns whether it was written."""
    try:
        write_atomically(path, data, follow_symlinks=False, mode=0o600)
    except OSError:
        return False
    return True


# ---- helpers ----------------------------------------------------------------------------------
def _write_all(handle: int, data: bytes, at: int | None = None) -> None:
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        if at is None:
            offset += os.write(handle, view[offset:])
        else:
            offset += os.pwrite(handle, view[offset:], at + offset)


def _read_all(handle: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(handle, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _write_stream(target: str, data: bytes | Iterable[bytes]) -> None:
    """Into a pipe, a device or an open file (``/dev/stdout``): appended, so that a file behind
    ``>>`` keeps what it held (behind ``>`` it is empty anyway)."""
    with open(target, "ab") as stream:
        if isinstance(data, bytes):
            stream.write(data)
        else:
            for piece in data:
                stream.write(piece)


def _reserve(handle: int, size: int) -> None:
    """Allocate the file's blocks up to ``size`` so that the write cannot run out of space."""
    if not hasattr(os, "posix_fallocate"):  # pragma: no cover - not Linux
        return
    try:
        os.posix_fallocate(handle, 0, size)
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise


def _keep_owner(handle: int, current: os.stat_result) -> bool:
    """Give the new file the old one's group and owner where the user may (the group when the
    user belongs to it; the owner as root); otherwise they are the user's. Returns whether
    both were kept."""
    if not hasattr(os, "fchown"):  # pragma: no cover - not POSIX
        return False
    for uid, gid in ((-1, current.st_gid), (current.st_uid, -1)):
        with contextlib.suppress(OSError):
            os.fchown(handle, uid, gid)
    found = os.fstat(handle)
    return (found.st_uid, found.st_gid) == (current.st_uid, current.st_gid)


def _check_unchanged(
    current: os.stat_result | None, expect: os.stat_result | None, path: str | os.PathLike[str]
) -> None:
    if expect is None:
        return
    if current is None or _identity(current) != _identity(expect):
        raise BlockingIOError(errno.EAGAIN, "the file changed since it was read", os.fspath(path))


def _identity(found: os.stat_result) -> tuple[int, ...]:
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _umask() -> int:
    """The process's umask (read by setting it and putting it back: the CLI is one thread)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def _sync_directory(directory: str) -> None:
    """Make the rename durable (where the platform can)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    try:
        handle = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
