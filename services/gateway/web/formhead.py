"""The first field of a multipart form, read before the files that follow it.

The hall's forms that carry files put their CSRF token first, so a form posted from another
site is refused after a few kilobytes instead of after its uploads have been spooled to disk.
What was read is put back in front of the stream for the form parser.
"""

from __future__ import annotations

import io
from typing import IO

from werkzeug.sansio.multipart import Data, Field, MultipartDecoder, Preamble
from werkzeug.wrappers import Request

HEAD_BYTES = 4096


class Replayed(io.RawIOBase):
    """``head`` again, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        super().__init__()
        self.head = io.BytesIO(head)
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self.head.readinto(buffer)
        if count:
            return count
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def leading_field(request: Request, name: str) -> str:
    """The value of the form's first part when that part is the text field ``name``; else ""."""
    boundary = request.mimetype_params.get("boundary", "")
    if not boundary:
        return ""
    stream = request.stream
    head = stream.read(HEAD_BYTES)
    request.stream = Replayed(head, stream)  # type: ignore[misc,assignment]
    return first_field_value(head, boundary.encode("latin-1", "replace"), name)


def first_field_value(head: bytes, boundary: bytes, name: str) -> str:
    decoder = MultipartDecoder(boundary, max_form_memory_size=HEAD_BYTES)
    decoder.receive_data(head)
    try:
        event = decoder.next_event()
        while isinstance(event, Preamble):
            event = decoder.next_event()
        if not (isinstance(event, Field) and event.name == name):
            return ""
        value = b""
        event = decoder.next_event()
        while isinstance(event, Data):
            value += event.data
            if not event.more_data:
                return value.decode("ascii", "replace")
            event = decoder.next_event()
    except ValueError:  # not multipart after all, or a part larger than the head
        return ""
    return ""  # the field did not end within the head
