"""OC 2001, "login to the identity system": the national SDKs' extension of the Handle protocol.

Both national SDKs (teleinfo-dev/id-pointer-sdk ``LoginIDSystemIdRequest``/``MsgConverter``, and
4iot-dev/ID-SDK ``LoginIDSystemRequest``) send it on every new TCP connection of an authenticated client,
after a get-site-info, and then send their requests on that connection with no credential of their own:

    request body:  user handle (len + UTF-8) | user index u32      (RD set, SHA-256 digest asked)
    answer:        RC 402 with a nonce and the request digest (opcode 2001), which the client answers with
                   an ordinary challenge answer (opcode 200, the 402's session id); then RC 1, opcode 2001,
                   empty body (the SDKs ignore it). A success without a challenge is an error to the SDK.

Sans-IO: the codec of that body; what the login grants lives with the connection (resolver/handle/login.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .codes import RC, HandleError
from .valuelist import read_handle
from .wire import Reader, WireError, Writer

OC_LOGIN_ID_SYSTEM = 2001


@dataclass(frozen=True, slots=True)
class LoginRequest:
    handle: str
    index: int

    def to_body(self) -> bytes:
        return Writer().text(self.handle).u32(self.index).getvalue()

    @classmethod
    def from_body(cls, data: bytes) -> LoginRequest:
        try:
            r = Reader(data)
            handle = read_handle(r)
            index = r.u32("user index")
            r.done("login request")
        except WireError as e:
            raise HandleError(RC.PROTOCOL_ERROR, f"login request: {e.message}") from None
        if not handle:
            raise HandleError(RC.INVALID_HANDLE, "login request names no user handle")
        return cls(handle, index)
