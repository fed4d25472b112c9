#!/usr/bin/env python3
"""Generate the row MAC known-answer vectors (docs/storage.md, "Row MACs").

Written from docs/storage.md alone, so that tests/test_store.c checks
store.c's canonical row bytes and tags against an independent assembly:
the bytes of every row are built here, item by item, and tagged with
Python's own keyed BLAKE2b (hashlib.blake2b, key = the row-MAC key,
digest_size = 32), never through libvault.

  tests/vectors/rowmac.txt    one line per row: name kind bytes_hex tag_hex

The rows themselves (the inputs below) are written out again in
tests/test_store.c, which stores each through the public store.h calls
over the in-memory backend and compares the bytes its guard was asked to
tag and the tag the backend was given with these.

Run from anywhere:  python3 tests/vectors/gen_rowmac_vectors.py
"""

import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# The row-MAC key of the vectors (a vault derives it from its master key:
# crypto_kdf subkey 4, context "vaultkey").
KEY = bytes(0x80 + i for i in range(32))
DOMAIN = b"libvault/row/v1"
ABSENT = 0xFFFFFFFF

META, POLICY, GRADEKEY, RECORD, GRANT, CHECKPOINT, AUDIT_STATE = 1, 2, 3, 4, 5, 6, 7
KIND_NAME = {META: "meta", POLICY: "policy", GRADEKEY: "gradekey", RECORD: "record",
             GRANT: "grant", CHECKPOINT: "checkpoint", AUDIT_STATE: "audit_state"}

# include/vault.h
EFFECT_MASK, EFFECT_ALLOW = 1, 2


def item(b):
    return struct.pack("<I", len(b)) + b


def s(text):
    """A string item; None is absent (length 0xFFFFFFFF, no bytes)."""
    if text is None:
        return struct.pack("<I", ABSENT)
    return item(text.encode("utf-8"))


def i64(v):
    """An integer item: 8 bytes, little-endian two's complement."""
    return item(struct.pack("<q", v))


def row(kind, items):
    return DOMAIN + bytes([kind]) + b"".join(items)


def seq(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


# ---- the rows (tests/test_store.c builds the same ones) ----

POLICY1_SRC = "version: 1\nname: city\n"
POLICY2_SRC = "version: 1\nname: city\n# second\n"


def rows():
    out = []

    # meta: key, value
    out.append(("meta_vault_id", META, [s("vault_id"), item(seq(0xA0, 16))]))
    out.append(("meta_empty", META, [s("grants_version"), item(b"")]))

    # policy: id, hash, filename, source, applied.  The first policy of a
    # store gets id 1, the next id 2.
    for pid, name, src, applied in ((1, "policy_1", POLICY1_SRC, 1700000000),
                                    (2, "policy_2", POLICY2_SRC, 1700000050)):
        out.append((name, POLICY, [i64(pid), item(hashlib.sha256(src.encode()).digest()),
                                   s("city.yaml"), item(src.encode()), i64(applied)]))

    # grade key: grade, version (u32, as an 8-byte integer), wrapped, created
    out.append(("gradekey_max_version", GRADEKEY,
                [s("personal"), i64(0xFFFFFFFF), item(seq(0x10, 72)), i64(1700000001)]))

    # record: id, jurisdiction, created, updated, version, field count, then
    # per field: name, grade, key version, counter, digest, ciphertext
    out.append(("record_0_fields", RECORD,
                [item(seq(0xB0, 16)), s("zhejiang/hangzhou/gongshu"), i64(1700000100),
                 i64(1700000100), i64(1), i64(0)]))
    out.append(("record_2_fields", RECORD,
                [item(seq(0xC0, 16)), s("zhejiang/hangzhou/xihu"), i64(1700000200),
                 i64(1700000300), i64(5), i64(2),
                 # "name": no exact index (digest length 0)
                 s("name"), s("personal"), i64(2), i64(5), item(b""), item(seq(0x30, 57)),
                 # "phone": a blind-index digest
                 s("phone"), s("personal"), i64(1), i64(3), item(seq(0xD0, 32)),
                 item(seq(0x70, 56))]))

    # grant: every member in struct order; absent optional strings
    out.append(("grant_nulls", GRANT,
                [s("g-1"), s("pending"), s("li.wei"), s("data_officer"),
                 s(None), s("police_officer"), s(None),
                 i64(EFFECT_ALLOW), i64(0x09),
                 s(None), s(None), s(None), s(None), s(None), s(None),
                 i64(1700000000), i64(1700086400), s("case 2023-117"), i64(0),
                 s(None), s(None), s(None), i64(1700000000), i64(0)]))
    out.append(("grant_all_set", GRANT,
                [s("g-2"), s("revoked"), s("li.wei"), s("data_officer"),
                 s("zhang.min"), s("social_worker"), s(""),
                 i64(EFFECT_MASK), i64(0xFFFFFFFF),
                 s("name\nphone"), s("public"), s("personal"),
                 s(seq(0xB0, 16).hex() + "\n" + seq(0xC0, 16).hex()),
                 s("zhejiang/hangzhou"), s("welfare\nhousing"),
                 i64(-86400), i64(2**63 - 1), s("居民求助 2023-118"), i64(1),
                 s("wang.fang"), s("chen.jie"), s("case closed"), i64(1700000500),
                 i64(1700000900)]))

    # grant with the principals of schema 5: after `changed`, the string
    # "schema 5", then the issuing and the approving principal (iss, sub,
    # app, jti each); a row with neither has the bytes above
    out.append(("grant_principals", GRANT,
                [s("g-3"), s("active"), s("li.wei"), s("data_officer"),
                 s(None), s("police_officer"), s(None),
                 i64(EFFECT_ALLOW), i64(0x01),
                 s(None), s(None), s(None), s(None), s(None), s(None),
                 i64(1700000000), i64(1700086400), s("case 2023-119"), i64(0),
                 s("wang.fang"), s(None), s(None), i64(1700000000), i64(1700000700),
                 s("schema 5"),
                 s("https://id.example.gov"), s("u-17"), s("street-desk"), s("jti-1"),
                 s(None), s(None), s("vaultctl"), s(None)]))

    # checkpoint: size, note, created
    note = "vault.example/city\n1000\nq83vEjRWeJA=\n\n\u2014 vault.example/city AAAA\n"
    out.append(("checkpoint_1000", CHECKPOINT,
                [i64(1000), item(note.encode()), i64(1700000400)]))

    # audit state: the entry's position, its chain head (32 bytes), the
    # state bytes (opaque to the store; here the log layer's form for a
    # tree of size 3: size, two live roots, 'T' and a trust digest)
    state = struct.pack("<Q", 3) + seq(0x40, 64) + b"T" + seq(0xE0, 32)
    out.append(("audit_state_3", AUDIT_STATE, [i64(3), item(seq(0x20, 32)), item(state)]))
    # the same on a shard's log (table version 9): the log's name follows
    out.append(("audit_state_3_log", AUDIT_STATE,
                [i64(3), item(seq(0x20, 32)), item(state), s("hangzhou/xihu")]))
    # position 1, the old 64-slot form of a tree of size 1 (no trust digest)
    state = struct.pack("<Q", 1) + seq(0x01, 64 * 32)
    out.append(("audit_state_legacy", AUDIT_STATE, [i64(1), item(seq(0x60, 32)), item(state)]))
    return out


def main():
    lines = ["# Row MAC known-answer vectors (docs/storage.md, \"Row MACs\"), generated by\n",
             "# tests/vectors/gen_rowmac_vectors.py from the document alone.\n",
             "# row-MAC key = 80 81 .. 9f; tag = BLAKE2b-256 keyed with it over the bytes.\n",
             "# The rows are described in the script and built again in tests/test_store.c.\n",
             "# columns: name kind canonical_bytes_hex tag_hex\n"]
    for name, kind, items in rows():
        b = row(kind, items)
        tag = hashlib.blake2b(b, key=KEY, digest_size=32).digest()
        lines.append(f"{name} {KIND_NAME[kind]} {b.hex()} {tag.hex()}\n")
    with open(os.path.join(HERE, "rowmac.txt"), "w", encoding="utf-8") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
