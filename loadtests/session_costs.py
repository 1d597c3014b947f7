"""CPU cost of a Handle session: one Diffie-Hellman set-up in the group CNRI's 9.3.1 client sent
(tests/data/handle-sessions), and one AES encryption and decryption of a 400-byte message.

    taskset -c 1 .venv/bin/python loadtests/session_costs.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol import sessions as ps  # noqa: E402
from protocol.message import decode_message  # noqa: E402
from protocol.wire import Reader  # noqa: E402
from resolver.handle.sessions import decrypt, dh_exchange, encrypt  # noqa: E402
from tests.session_client import reference_setup_request  # noqa: E402


def main(setups: int = 200, messages: int = 5000) -> None:
    req = ps.SessionSetupRequest.read(Reader(decode_message(reference_setup_request()).body.data))
    t = time.perf_counter()
    for _ in range(setups):
        dh_exchange(req.public_key)
    dh = (time.perf_counter() - t) / setups
    key, msg = bytes(32), bytes(400)
    t = time.perf_counter()
    for _ in range(messages):
        decrypt(key, encrypt(key, msg))
    aes = (time.perf_counter() - t) / messages
    print(f"DH set-up (1024-bit group): {dh * 1e3:.2f} ms; AES encrypt+decrypt of 400 bytes: {aes * 1e6:.1f} us")


if __name__ == "__main__":
    main()
