#!/usr/bin/env python3
"""Generate the pseudonym mask's known-answer vectors (docs/masks.md,
"pseudonym").

Written from docs/masks.md alone, so that tests/test_crypto.c checks
vc_pseudonym against an independent assembly with Python's own keyed
BLAKE2b (hashlib.blake2b) and base32 (base64.b32encode), never through
libvault.  The root key of the vectors is 0xa0 0xa1 ... 0xbf (a vault
derives its root from the master key: crypto_kdf subkey 5, context
"vaultkey"; tests/vectors/kdf.txt).

  tests/vectors/pseudonym.txt   department field value_hex('-' = empty) pseudonym('-' = empty)

Run from anywhere:  python3 tests/vectors/gen_pseudonym_vectors.py
"""

import base64
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = bytes(0xA0 + i for i in range(32))
LABEL = b"libvault/pseudonym/v1"
# The blind index's white space (docs/field-format.md): ASCII white
# space, U+00A0 and U+3000.
SPACES = [b" ", b"\t", b"\n", b"\v", b"\f", b"\r", "\u00a0".encode(), "\u3000".encode()]


def normalise(v):
    changed = True
    while changed:
        changed = False
        for s in SPACES:
            if v.startswith(s):
                v, changed = v[len(s):], True
            if v.endswith(s):
                v, changed = v[:-len(s)], True
    if v.endswith(b"x"):
        v = v[:-1] + b"X"
    return v


def pseudonym(department, field, value):
    v = normalise(value)
    if not v:
        return ""
    d, f = department.encode(), field.encode()
    key = hashlib.blake2b(LABEL + struct.pack("<I", len(d)) + d + struct.pack("<I", len(f)) + f,
                          key=ROOT, digest_size=32).digest()
    p = hashlib.blake2b(v, key=key, digest_size=16).digest()
    return "PSN-" + base64.b32encode(p[:10]).decode().lower()


CASES = [
    ("hotline_12345", "complainant_identity", "实名投诉人 王五".encode()),
    ("public_security", "complainant_identity", "实名投诉人 王五".encode()),
    ("hotline_12345", "id_number", b"11010119900307123x"),
    ("hotline_12345", "id_number", b" 11010119900307123X\xe3\x80\x80"),
    ("hotline_12345", "phone", b"11010119900307123X"),
    ("health", "phone", b"13812345678"),
    ("health", "phone", b"13812345679"),
    ("health", "phone", b" \xc2\xa0"),
    ("health", "phone", b""),
]


def main():
    lines = ["# Pseudonym vectors: root key = a0 a1 .. bf",
             "# columns: department field value_hex('-' = empty) pseudonym('-' = empty)"]
    for dept, field, value in CASES:
        lines.append("%s %s %s %s" % (dept, field, value.hex() or "-",
                                      pseudonym(dept, field, value) or "-"))
    with open(os.path.join(HERE, "pseudonym.txt"), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
