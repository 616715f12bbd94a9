"""Reading Parquet and Arrow files (``pip install 'tosguard[data]'``, which brings pyarrow):
batches of rows, streamed, so that memory holds one batch whatever the file's size."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Diagnostic, Span, UsageError

__all__ = ["record_batches", "require_pyarrow"]


def require_pyarrow(fmt: str, where: Span) -> None:
    """Raise a usage error naming the extra to install when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(
            Diagnostic(
                "usage-missing-extra",
                f"reading {fmt} files needs pyarrow, which is not installed",
                where,
                "install the data extra: pip install 'tosguard[data]'",
            )
        ) from None


def record_batches(path: str, fmt: str, size: int) -> Iterator:
    """The record batches of a Parquet file, or of an Arrow IPC file or stream (what
    Hugging Face ``save_to_disk`` writes)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as parquet:
            yield from parquet.iter_batches(batch_size=size)
        return
    with pa.memory_map(path, "r") as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                yield reader.get_batch(index)
            return
        yield from reader
