#!/usr/bin/env python3
"""Builds wire-v1.json: Parley's wire formats assembled field by field, independently of the TypeScript encoder.

Protobuf is written by hand below (tag = field << 3 | wire type, minimal varints, fields in ascending order);
Ed25519 signatures come from pyca/cryptography. Run: python3 build-vectors.py > wire-v1.json
"""
import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def uint(no, v):
    return varint(no << 3 | 0) + varint(v)


def ld(no, b):
    return varint(no << 3 | 2) + varint(len(b)) + b


MESSAGE_ID = bytes(range(16))
MESSAGE_ID_2 = bytes(range(16, 32))
SENT_AT = 1764288000000  # 2025-11-28T00:00:00Z
vectors = {}


def add(name, fields, data):
    vectors[name] = {"fields": fields, "hex": data.hex()}


add("envelope", {"messageId": MESSAGE_ID.hex(), "ciphertext": "deadbeef"},
    uint(1, 1) + ld(2, MESSAGE_ID) + ld(3, bytes.fromhex("deadbeef")))

text = "h\u00e9llo \U0001F44B"
add("payload-text", {"kind": "text", "senderSeq": 7, "sentAt": SENT_AT, "text": text},
    uint(1, 1) + uint(2, 1) + uint(3, 7) + uint(4, SENT_AT) + ld(5, text.encode()))
add("payload-receipt",
    {"kind": "receipt", "senderSeq": 8, "sentAt": SENT_AT, "type": "read",
     "messageIds": [MESSAGE_ID.hex(), MESSAGE_ID_2.hex()]},
    uint(1, 1) + uint(2, 2) + uint(3, 8) + uint(4, SENT_AT)
    + ld(6, uint(1, 2) + ld(2, MESSAGE_ID) + ld(2, MESSAGE_ID_2)))
# active = false is still written: required fields always are.
add("payload-typing", {"kind": "typing", "senderSeq": 0, "sentAt": SENT_AT, "active": False},
    uint(1, 1) + uint(2, 3) + uint(3, 0) + uint(4, SENT_AT) + ld(7, uint(1, 0)))
add("payload-call-signal", {"kind": "call-signal", "senderSeq": 9, "sentAt": SENT_AT, "callSignal": b"v=0".hex()},
    uint(1, 1) + uint(2, 4) + uint(3, 9) + uint(4, SENT_AT) + ld(8, b"v=0"))
small = uint(1, 1) + uint(2, 1) + uint(3, 1) + uint(4, 0) + ld(5, b"hi")
add("padded-payload-text-hi", {"kind": "text", "senderSeq": 1, "sentAt": 0, "text": "hi"},
    small + b"\x80" + bytes(64 - len(small) - 1))

add("ack-ok", {"messageId": MESSAGE_ID.hex(), "status": "ok"}, uint(1, 1) + ld(2, MESSAGE_ID) + uint(3, 1))
add("ack-error", {"messageId": MESSAGE_ID.hex(), "status": "error", "errorCode": "NoSession"},
    uint(1, 1) + ld(2, MESSAGE_ID) + uint(3, 2) + ld(4, b"NoSession"))

seed = bytes(range(32))
key = Ed25519PrivateKey.from_private_bytes(seed)
identity = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

add("prekey-request", {"identityKey": identity.hex()}, uint(1, 1) + ld(2, identity))
add("prekey-response-ok", {"status": "ok", "prekeyBundle": "cafebabe"},
    uint(1, 1) + uint(2, 1) + ld(3, bytes.fromhex("cafebabe")))
add("prekey-response-error", {"status": "error", "errorCode": "NotFound"},
    uint(1, 1) + uint(2, 2) + ld(4, b"NotFound"))

# /ip4/127.0.0.1/tcp/4001 and /dns4/relay.example/tcp/443/wss in binary multiaddr form.
addr = bytes.fromhex("047f000001060fa1")
relay = bytes.fromhex("36") + varint(len(b"relay.example")) + b"relay.example" + bytes.fromhex("0601bb") + varint(478)
bundle = b"opaque bundle bytes"
body = (uint(1, 1) + ld(2, identity) + ld(3, bundle) + ld(4, addr) + ld(5, relay)
        + uint(6, SENT_AT) + uint(7, SENT_AT + 7 * 86400000))
signature = key.sign(b"Parley/v1/dht-record\x00" + body)
add("dht-record",
    {"identitySeed": seed.hex(), "identityKey": identity.hex(), "bundle": bundle.hex(), "addresses": [addr.hex()],
     "mailboxRelays": [relay.hex()], "sequence": SENT_AT, "expiresAt": SENT_AT + 7 * 86400000,
     "signature": signature.hex()},
    body + ld(8, signature))
vectors["dht-key"] = {"fields": {"identityKey": identity.hex()}, "hex": (b"/parley/" + identity).hex()}

invite = uint(1, 1) + ld(2, identity) + ld(3, addr) + ld(4, relay) + ld(5, "Al\u00efce".encode())
vectors["invite"] = {
    "fields": {"identityKey": identity.hex(), "addresses": [addr.hex()], "relays": [relay.hex()], "name": "Al\u00efce"},
    "hex": invite.hex(),
    "link": "parley://invite/" + base64.urlsafe_b64encode(invite).decode().rstrip("="),
}

print(json.dumps({"source": "test/vectors/build-vectors.py", "vectors": vectors}, indent=2, ensure_ascii=False))
