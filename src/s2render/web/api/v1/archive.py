"""A job's images and sidecars as one zip, written while it is sent.

zipfile writes to a stream that cannot seek by putting each member's sizes and CRC after its
data (data descriptors), so the archive goes out chunk by chunk: no temporary file, memory
bounded by the chunk size, the first bytes sent before the last image is read. Images are
stored (they are compressed already); sidecars are deflated.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

CHUNK = 1 << 20


class _Pipe:
    """A write-only file object whose contents are taken out as they arrive."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def zip_stream(files: Iterable[Path]) -> Iterator[bytes]:
    """The bytes of a zip holding ``files`` under their base names, in order."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w") as archive:  # type: ignore[arg-type]
        for path in files:
            compress = zipfile.ZIP_DEFLATED if path.suffix == ".json" else zipfile.ZIP_STORED
            info = zipfile.ZipInfo.from_file(path, arcname=path.name)
            info.compress_type = compress
            with path.open("rb") as source, archive.open(info, mode="w") as member:
                while block := source.read(CHUNK):
                    member.write(block)
                    if chunk := pipe.take():
                        yield chunk
            if chunk := pipe.take():
                yield chunk
    if chunk := pipe.take():
        yield chunk
