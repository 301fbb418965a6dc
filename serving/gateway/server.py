"""uvicorn glue: an httptools protocol that bounds a request's head before the app sees it.

uvicorn's httptools parser keeps whatever header bytes a client sends (a 1 MB header, 5,000 headers) and
only then calls the app, whose own check (``limits.maxHeaders``/``maxHeaderBytes``, 431 in the OpenAI
shape) is exact but comes after the memory is spent. :func:`bounded_httptools` returns a protocol class
that counts the bytes received while a request's head is incomplete and, past ``head_bytes``, answers 431
and closes the connection without parsing further. Bounded to ``head_bytes`` plus one socket read.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: room for the request line and the ": " / CRLF framing around the app's ``maxHeaderBytes``
FRAMING_ALLOWANCE = 16_384


def _refusal() -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": "request head too large",
                "type": "invalid_request_error",
                "param": "headers",
                "code": "request_headers_too_large",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        "x-paddock-upstream: none\r\nx-paddock-fallback-reason: none\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REFUSAL = _refusal()


class BoundedHttpTools(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` refusing a request head over ``head_bytes`` (431, connection closed)."""

    head_bytes = 65_536
    _in_head = True
    _head = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head = True, 0  # the next bytes on this connection start a new head
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head += len(data)
            if self._head > self.head_bytes:
                self.transport.write(REFUSAL)
                self.transport.close()
                return
        super().data_received(data)


def bounded_httptools(max_header_bytes: int) -> type[BoundedHttpTools]:
    """The protocol class for uvicorn's ``http=``, bounding heads at ``max_header_bytes`` + framing."""
    return type("BoundedHttpTools", (BoundedHttpTools,), {"head_bytes": max_header_bytes + FRAMING_ALLOWANCE})
