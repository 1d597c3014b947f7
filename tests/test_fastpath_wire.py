"""protocol/fastpath.py, bytes in and fields out: what it reads at fixed offsets is what the codec reads."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol import bodies as b
from protocol import datagrams
from protocol import fastpath as fp
from protocol.codes import HandleError
from protocol.envelope import KA, PO, Op
from protocol.handles import key, split
from protocol.message import Message, answer, decode_message, encode

_CHARS = st.sampled_from(list("abcXYZ019._-/ .:é\t\x7f") + ["..", "/./", "/../", "hdl:", "0.NA/"])


@given(st.lists(_CHARS, max_size=30).map("".join))
def test_a_plain_handle_is_one_handle_syntax_accepts_and_its_key_is_its_lower_case(text):
    raw = text.encode("utf-8")
    if not fp.plain_handle(raw):
        return
    split(text)  # raises for a handle the syntax refuses
    assert key(text) == raw.lower()


@given(st.lists(_CHARS, max_size=30).map("".join))
def test_what_handle_syntax_accepts_in_ascii_is_plain(text):
    try:
        split(text)
    except HandleError:
        return
    if text.isascii() and text.isprintable() and len(text) <= 255:
        assert fp.plain_handle(text.encode())


def _request(handle: str, opflags: int = 0) -> Message:
    return Message(Op.RESOLUTION, b.ResolutionRequest(handle), opflags=opflags, session_id=5, request_id=77,
                   major=2, minor=11)


def test_a_framed_answer_is_what_the_codec_encodes():
    req = _request("88.101.5/X", PO | KA)
    body = b.ErrorResponse("handle 88.101.5/X not found")
    ref = encode(answer(req, body, 100, site_serial=3, expiration=1234))
    plain = fp.plain_resolution(encode(req))
    assert plain is not None and plain.handle == b"88.101.5/X" and plain.opflags == PO | KA
    framed = fp.frame(plain, 100, decode_message(ref).opflags, 3, 1234, fp.answer_tail(ref))
    assert framed == ref
    assert fp.opcode_rc(framed) == (1, 100)
    assert framed[44:] == fp.error_tail(b"handle 88.101.5/X not found")


def test_envelope_fields_and_slices():
    data = encode(_request("88.101.5/Y"))
    assert (fp.session_id(data), fp.request_id(data), fp.opcode(data)) == (5, 77, Op.RESOLUTION)
    assert fp.message_length(data) == len(data) - 20 and not fp.is_slice(data) and not fp.encrypted(data)
    assert not fp.has_credential(data)
    big = encode(answer(_request("88.101.5/Y"), b.ErrorResponse("x" * 1000), 100))
    parts = datagrams.split(big)
    assert len(parts) == 3 and all(fp.is_slice(p) for p in parts)
    assert not fp.is_slice(datagrams.reassemble(parts))
    sealed = fp.with_payload(data, b"cipher", encrypted=True)
    assert fp.encrypted(sealed) and fp.payload(sealed) == b"cipher" and fp.message_length(sealed) == 6
    assert fp.with_payload(sealed, fp.payload(data), encrypted=False) == data


def test_only_an_unsigned_answer_is_cut_for_signing():
    ans = encode(answer(_request("88.101.5/X"), b.ErrorResponse("x"), 100))
    parts = fp.unsigned(ans)
    assert parts.header_and_body == ans[20:-4]
    signed = fp.with_credential(parts, b"CRED")
    assert signed[20:-8] == parts.header_and_body and signed[-8:] == b"\0\0\0\4CRED"
    assert fp.message_length(signed) == len(signed) - 20
    try:
        fp.unsigned(signed)
    except ValueError:
        pass
    else:
        raise AssertionError("a signed answer was cut for signing again")
