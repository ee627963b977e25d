"""Pixels in chunks: how images cross the wire in both directions.

Images never travel inside one message (a 24 MP 16-bit layer is ~190 MB): a header announces
their byte counts and the bytes follow as `Chunk` messages of at most `CHUNK_BYTES`. `chunks`
cuts a buffer up; `Reassembly` fills the announced buffers back up, in order, and is what both
the daemon (an upload) and the client (a result and its masks) use.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from .contract import CHUNK_BYTES


def chunks(data: memoryview, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """`data` as consecutive byte strings of at most `size` bytes (protobuf wants `bytes`)."""
    for start in range(0, len(data), size):
        yield bytes(data[start:start + size])


class ChunkOverflow(Exception):
    """More bytes arrived than the headers announced."""


class Reassembly:
    """Buffers of announced sizes, filled in order by whatever chunks arrive (a chunk may span
    the end of one buffer and the start of the next)."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.buffers = [bytearray(size) for size in sizes]
        self._index = 0  # the buffer being filled
        self._filled = 0  # bytes of it received

    def add(self, data: bytes) -> None:
        """Append `data`; ChunkOverflow if it goes past the last buffer."""
        view = memoryview(data)
        while view:
            self._skip_full()
            if self._index == len(self.buffers):
                raise ChunkOverflow
            buffer = self.buffers[self._index]
            taken = min(len(view), len(buffer) - self._filled)
            buffer[self._filled:self._filled + taken] = view[:taken]
            self._filled += taken
            view = view[taken:]

    @property
    def complete(self) -> bool:
        self._skip_full()
        return self._index == len(self.buffers)

    def missing(self) -> tuple[int, int]:
        """(index of the first incomplete buffer, bytes of it received); call when not complete."""
        self._skip_full()
        return self._index, self._filled

    def _skip_full(self) -> None:
        while self._index < len(self.buffers) and self._filled == len(self.buffers[self._index]):
            self._index, self._filled = self._index + 1, 0
