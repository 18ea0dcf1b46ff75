"""Streaming intake of ``POST /v1/batches``: multipart parts written straight to disk.
Nothing holds more than one network chunk in memory; the upload is cut off (413) the
moment it passes the size limit.

Must never: buffer a whole part, keep a scratch file after a failed upload, or echo a
part's content in an error.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from taxmatch.contracts import ENVELOPE_MAX_BYTES
from taxmatch.errors import InputFileError, UploadTooLarge
from taxmatch.owner_only import make_dir, open_private
from taxmatch.pipeline.intake import Upload, check_request_format

_PARTS = ("requests", "envelope")


class _Sink:
    """Receives the parser's callbacks and routes each part's bytes to its file."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.current: str | None = None
        self.handle: BinaryIO | None = None
        self.paths: dict[str, Path] = {}
        self.sha = hashlib.sha256()
        self.envelope_bytes = 0

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("latin-1")
        self.current = name if name in _PARTS else None
        if self.current is None:
            return
        if self.current in self.paths:
            raise InputFileError(self.current, "part given more than once")
        if self.current == "requests":
            filename = params.get(b"filename", b"requests.csv").decode("latin-1")
            suffix = Path(filename).suffix.lower() or ".csv"
            path = self.scratch / f"requests{suffix}"
            check_request_format(path)  # unknown type: refused before any byte is stored
        else:
            path = self.scratch / "envelope.json"
        self.paths[self.current] = path
        self.handle = open_private(path, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.handle is None or start == end:
            return
        piece = data[start:end]
        if self.current == "requests":
            self.sha.update(piece)
        else:
            self.envelope_bytes += len(piece)
            if self.envelope_bytes > ENVELOPE_MAX_BYTES:
                raise UploadTooLarge("envelope part is larger than 1 MiB")
        self.handle.write(piece)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    on_part_end = close


async def receive_upload(request: Request, scratch_root: Path, max_bytes: int) -> Upload:
    """Stream the multipart body of ``request`` into a new scratch directory."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InputFileError("body", "must be multipart/form-data with a boundary")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UploadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
    scratch = scratch_root / f"tmp-{uuid.uuid4().hex}"
    make_dir(scratch)
    sink = _Sink(scratch)
    try:
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": sink.on_part_begin,
                "on_header_field": sink.on_header_field,
                "on_header_value": sink.on_header_value,
                "on_header_end": sink.on_header_end,
                "on_headers_finished": sink.on_headers_finished,
                "on_part_data": sink.on_part_data,
                "on_part_end": sink.on_part_end,
            },
        )
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise UploadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")
            try:
                parser.write(chunk)
            except (ValueError, TypeError) as exc:  # MultipartParseError is a ValueError
                if isinstance(exc, InputFileError):
                    raise
                raise InputFileError("body", "malformed multipart body") from None
        parser.finalize()
        sink.close()
        for part in _PARTS:
            if part not in sink.paths:
                raise InputFileError(part, "part missing from the upload")
        return Upload(sink.paths["requests"], sink.paths["envelope"], sink.sha.hexdigest())
    except BaseException:
        sink.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
