#!/usr/bin/env python3
"""Generate the resident proof bundle vector (docs/audit-format.md §11).

Standard library only, written from the format text, sharing no code with
libvault (the Ed25519 signer and the RFC 6962 PATH are those of the other
vector scripts here, themselves written from RFC 8032 and RFC 6962):

  tests/vectors/bundle_v2.json   the bundle of record b0b1...bebf in the
                                 10-entry vector log (audit.txt,
                                 audit_v2.txt) with checkpoint_v2.txt,
                                 its statement signed with the vector key
  tests/vectors/bundle_v2_cosigned.json
                                 the same bundle with the checkpoint
                                 cosigned by the witness of
                                 cosignature.txt (gen_cosign_vectors.py)
                                 at time 1700000000
  tests/vectors/witness.pub      that witness's verifier key

tests/test_audit_bundle.c checks that libvault's verifier accepts them and
that libvault's writer gives the same bytes for the same input;
tests/vectors/check_bundle.py checks them without libvault.

Run from anywhere:  python3 tests/vectors/gen_bundle_vectors.py
"""

import base64
import hashlib
import os
import struct

from gen_audit_vectors import ed25519_public, ed25519_sign
from gen_cosign_vectors import COSIGN_TYPE, NAME as WITNESS, SEED as WITNESS_SEED, cosign
from gen_cosign_vectors import keyid as typed_keyid
from gen_proof_vectors import dump, leaf_hash, mth, note, path

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "libvault-bundle/v1"
RECORD = bytes(range(0xB0, 0xC0))
COSIGNED_AT = 1700000000


def b64(b):
    return base64.b64encode(b).decode("ascii")


def read_log():
    """Entries 1 ... 10 (bytes) and the key lines of audit.txt."""
    entries, key = [], {}
    for name in ("audit.txt", "audit_v2.txt"):
        with open(os.path.join(HERE, name), encoding="utf-8") as f:
            for line in f:
                w = line.split()
                if w and w[0] == "entry":
                    assert int(w[1]) == len(entries) + 1
                    entries.append(bytes.fromhex(w[2]))
                elif len(w) == 2 and w[0] in ("origin", "seed", "pubkey"):
                    key.setdefault(w[0], w[1])
    return entries, key


def record_of(entry):
    """The record id of an entry (§1: LVA1 or LVA2), or None."""
    magic = entry[:4]
    assert magic in (b"LVA1", b"LVA2")
    off = 4 + 8 + 8
    nstr = 5 + (5 if magic == b"LVA2" else 0) + 1  # strings, principal, action
    for _ in range(nstr):
        (n,) = struct.unpack_from("<I", entry, off)
        off += 4 + n
    off += 2  # outcome, flags
    has_record = entry[off]
    return entry[off + 1:off + 17] if has_record == 1 else None


def main():
    entries, key = read_log()
    seed, origin = bytes.fromhex(key["seed"]), key["origin"]
    pk = ed25519_public(seed)
    assert pk.hex() == key["pubkey"]
    leaves = [leaf_hash(e) for e in entries]
    size = len(entries)
    root = mth(leaves)
    cp = note("checkpoint_v2.txt")
    assert cp.split("\n")[1] == str(size) and cp.split("\n")[2] == b64(root)
    seqs = [i + 1 for i, e in enumerate(entries) if record_of(e) == RECORD]
    statement = "%s\n%s\n%d\n%s\nrecord %s\nseqs%s\n" % (
        TAG, origin, size, b64(root), RECORD.hex(), "".join(" %d" % s for s in seqs))
    keyid = hashlib.sha256(origin.encode() + b"\n\x01" + pk).digest()[:4]
    sig = keyid + ed25519_sign(seed, statement.encode())
    bundle = {
        "bundle": TAG,
        "origin": origin,
        "record": RECORD.hex(),
        "checkpoint": cp,
        "statement": statement,
        "signature": b64(sig),
        "entries": [{"seq": s, "entry": b64(entries[s - 1]),
                     "hashes": [b64(h) for h in path(s - 1, leaves)]} for s in seqs],
    }
    with open(os.path.join(HERE, "bundle_v2.json"), "w", encoding="utf-8") as f:
        f.write(dump(bundle) + "\n")
    # Cosigned: the checkpoint as the vault stores it once the witness's
    # line is appended; the statement is the same (it names the tree).
    bundle["checkpoint"] = cp + cosign(cp.encode("utf-8"), COSIGNED_AT)
    with open(os.path.join(HERE, "bundle_v2_cosigned.json"), "w", encoding="utf-8") as f:
        f.write(dump(bundle) + "\n")
    wpk = ed25519_public(WITNESS_SEED)
    with open(os.path.join(HERE, "witness.pub"), "w", encoding="utf-8") as f:
        f.write("%s+%s+%s\n" % (WITNESS, typed_keyid(WITNESS, COSIGN_TYPE, wpk).hex(),
                               b64(bytes([COSIGN_TYPE]) + wpk)))


if __name__ == "__main__":
    main()
