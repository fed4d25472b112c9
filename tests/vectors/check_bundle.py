#!/usr/bin/env python3
"""Check a resident proof bundle (docs/audit-format.md §11) without libvault.

Standard library only, written from the format text: the RFC 8032 Ed25519
point arithmetic of gen_audit_vectors.py (here used to verify), RFC 6962
inclusion proofs (§10), C2SP signed notes (§3) and tlog-cosignature
(docs/witness.md).  It checks the checkpoint's signature by the log key,
the statement's signature and lines (six, or seven with "later N"), that
the statement names the checkpoint's tree and the bundle's record, every
entry (sequence number inside its bytes, filed under the record, proof to
the root, listed by the statement, none listed missing) and, with
--witness-key, that at least K distinct witness keys cosigned the
checkpoint.

  python3 tests/vectors/check_bundle.py BUNDLE --pubkey FILE
          [--witness-key FILE]... [--witness-quorum K]

Exit 0 and "ok: ..." when the bundle holds, 3 and "FAILED: <why>" when it
does not, 2 for bad arguments.  --self-test checks the vectors (the plain
and the cosigned bundle) and that one byte changed in the cosignature, in
an entry or in the statement makes the check fail.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_audit_vectors import G, L, P, _add, _compress, _mul, _recover_x  # noqa: E402

TAG = "libvault-bundle/v1"
EM_DASH = "\u2014 "


class Bad(Exception):
    pass


# ---------------------------------------------------------------- Ed25519


def _decompress(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    try:
        x = _recover_x(y, sign)
    except AssertionError:
        return None
    if x == 0 and sign:
        return None
    return (x, y, 1, x * y % P)


def ed25519_verify(pub, msg, sig):
    """RFC 8032 §5.1.7 (cofactorless), as libsodium checks it."""
    if len(sig) != 64:
        return False
    a, r = _decompress(pub), _decompress(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
    return _compress(_mul(s, G)) == _compress(_add(r, _mul(k, a)))


# ------------------------------------------------------------- notes, keys


def vkey_parse(text, typ):
    """name+keyid+base64(type | key) -> (name, key)."""
    parts = text.strip().split("+")
    if len(parts) != 3:
        raise Bad("not a verifier key")
    name, kid, raw = parts[0], bytes.fromhex(parts[1]), base64.b64decode(parts[2], validate=True)
    if len(raw) != 33 or raw[0] != typ:
        raise Bad("verifier key %s is not of type 0x%02x" % (name, typ))
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != kid:
        raise Bad("verifier key %s: key id does not match" % name)
    return name, raw[1:]


def note_split(note):
    """(text with its final newline, [(name, signature bytes)])."""
    i = note.rfind("\n\n")
    if i < 0 or not note.endswith("\n"):
        raise Bad("checkpoint: malformed (no blank line or final newline)")
    sigs = []
    for line in note[i + 2:].split("\n")[:-1]:
        if not line.startswith(EM_DASH) or " " not in line[2:]:
            raise Bad("checkpoint: malformed signature line")
        name, b64 = line[2:].split(" ", 1)
        sigs.append((name, base64.b64decode(b64, validate=True)))
    return note[:i + 1], sigs


def checkpoint_verify(note, name, pk):
    text, sigs = note_split(note)
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    if not any(n == name and s[:4] == kid and ed25519_verify(pk, text.encode(), s[4:])
               for n, s in sigs):
        raise Bad("checkpoint: bad signature (not signed by the log key)")
    lines = text.split("\n")
    if lines[0] != name:
        raise Bad("checkpoint: bad signature (another origin)")
    size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    if str(size) != lines[1] or len(root) != 32:
        raise Bad("checkpoint: malformed (size or root)")
    return text, sigs, size, root


def cosigned(text, sigs, name, pk):
    """1 when a line of witness (name, pk) is a cosignature/v1 of the text."""
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pk).digest()[:4]
    for n, s in sigs:
        if n != name or len(s) != 4 + 8 + 64 or s[:4] != kid:
            continue
        ts = int.from_bytes(s[4:12], "big")
        if ed25519_verify(pk, b"cosignature/v1\ntime %d\n" % ts + text.encode(), s[12:]):
            return True
    return False


# ----------------------------------------------------------------- proofs


def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node_hash(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def inclusion_root(index, size, leaf, hashes):
    """RFC 9162 §2.1.3.2: the root the path leads to, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for h in hashes:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(h, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, h)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def entry_seq_record(entry):
    """(seq, record id or None) of an entry's canonical bytes (§1)."""
    magic = entry[:4]
    if magic not in (b"LVA1", b"LVA2"):
        raise Bad("an entry's bytes do not decode")
    (seq,) = struct.unpack_from("<Q", entry, 4)
    off = 4 + 8 + 8
    for _ in range(5 + (5 if magic == b"LVA2" else 0) + 1):
        (n,) = struct.unpack_from("<I", entry, off)
        off += 4 + n
    off += 2
    return seq, (entry[off + 1:off + 17] if entry[off] == 1 else None)


# ----------------------------------------------------------------- bundle


def statement_parse(text):
    lines = text.split("\n")
    if not text.endswith("\n") or len(lines) not in (7, 8):
        raise Bad("bundle statement: malformed (six or seven lines)")
    lines = lines[:-1]
    if lines[0] != TAG or not lines[4].startswith("record ") or not lines[5].startswith("seqs"):
        raise Bad("bundle statement: malformed")
    later = 0
    if len(lines) == 7:
        w = lines[6].split(" ")
        if len(w) != 2 or w[0] != "later" or not w[1].isdigit() or w[1][0] == "0":
            raise Bad("bundle statement: malformed (line 7)")
        later = int(w[1])
    seqs = [int(x) for x in lines[5][4:].split(" ")[1:]] if lines[5] != "seqs" else []
    if lines[5] != "seqs" + "".join(" %d" % s for s in seqs) or seqs != sorted(set(seqs)):
        raise Bad("bundle statement: malformed (seqs)")
    return lines[1], int(lines[2]), base64.b64decode(lines[3]), bytes.fromhex(lines[4][7:]), seqs, later


def check(b, name, pk, witnesses, quorum):
    """The ok line, or raise Bad."""
    keys = ["bundle", "origin", "record", "checkpoint", "statement", "signature", "entries"]
    if not isinstance(b, dict) or sorted(b) != sorted(keys) or b["bundle"] != TAG:
        raise Bad("bundle: malformed")
    if b["origin"] != name:
        raise Bad("bundle: bad signature (another log)")
    text, sigs, size, root = checkpoint_verify(b["checkpoint"], name, pk)
    sig = base64.b64decode(b["signature"], validate=True)
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    if len(sig) != 68 or sig[:4] != kid or not ed25519_verify(pk, b["statement"].encode(), sig[4:]):
        raise Bad("bundle statement: bad signature")
    origin, ssize, sroot, srecord, seqs, later = statement_parse(b["statement"])
    record = bytes.fromhex(b["record"])
    if origin != name or ssize != size or sroot != root or srecord != record:
        raise Bad("bundle statement: modified (another log, tree or record)")
    got = []
    for e in b["entries"]:
        seq, raw = e["seq"], base64.b64decode(e["entry"], validate=True)
        if got and seq <= got[-1]:
            raise Bad("entry %d: reordered" % seq)
        eseq, erec = entry_seq_record(raw)
        if eseq != seq or erec != record or seq > size:
            raise Bad("entry %d: modified (sequence, record or tree)" % seq)
        hashes = [base64.b64decode(h, validate=True) for h in e["hashes"]]
        if inclusion_root(seq - 1, size, leaf_hash(raw), hashes) != root:
            raise Bad("entry %d: modified (its proof does not lead to the root)" % seq)
        if seq not in seqs:
            raise Bad("entry %d: modified (the statement does not list it)" % seq)
        got.append(seq)
    if got != seqs:
        raise Bad("missing (the statement lists %d entries, the bundle holds %d)" % (len(seqs), len(got)))
    distinct = {pk_: n for n, pk_ in witnesses}
    have = sum(1 for pk_, n in distinct.items() if cosigned(text, sigs, n, pk_))
    if witnesses and have < quorum:
        raise Bad("checkpoint %d: unwitnessed (%d of the %d required cosignatures)" % (size, have, quorum))
    return "ok: %d entries of record %s in the tree of size %d%s%s" % (
        len(got), b["record"], size, "; %d later" % later if later else "",
        "; witnessed by %d" % have if witnesses else "")


def self_test():
    with open(os.path.join(HERE, "vectors.pub")) as f:
        name, pk = vkey_parse(f.read(), 0x01)
    with open(os.path.join(HERE, "witness.pub")) as f:
        w = [vkey_parse(f.read(), 0x04)]
    with open(os.path.join(HERE, "bundle_v2.json"), encoding="utf-8") as f:
        plain = json.load(f)
    with open(os.path.join(HERE, "bundle_v2_cosigned.json"), encoding="utf-8") as f:
        cos = json.load(f)
    print(check(plain, name, pk, [], 0))
    print(check(cos, name, pk, w, 1))
    failures = 0

    def must_fail(what, b, wit, want):
        nonlocal failures
        try:
            check(b, name, pk, wit, len(wit))
        except Bad as e:
            if want in str(e):
                print("ok - %s: %s" % (what, e))
                return
            print("not ok - %s: %s" % (what, e))
        else:
            print("not ok - %s: accepted" % what)
        failures += 1

    must_fail("the plain bundle, a witness required", plain, w, "unwitnessed (0 of the 1")
    # One byte of the cosignature changed, at every position of its 76.
    line = cos["checkpoint"].rstrip("\n").rsplit("\n", 1)[1]
    raw = base64.b64decode(line.split(" ")[2])
    for i in range(len(raw)):
        t = bytearray(raw)
        t[i] ^= 0x01
        b = copy.deepcopy(cos)
        b["checkpoint"] = b["checkpoint"].replace(line, line.split(" ")[0] + " " + line.split(" ")[1] +
                                                  " " + base64.b64encode(bytes(t)).decode())
        must_fail("cosignature byte %d changed" % i, b, w, "unwitnessed (0 of the 1")
    b = copy.deepcopy(cos)
    b["statement"] = b["statement"].replace("seqs 1 2", "seqs 2")
    must_fail("a seq taken out of the statement", b, w, "bundle statement: bad signature")
    b = copy.deepcopy(cos)
    e = bytearray(base64.b64decode(b["entries"][2]["entry"]))
    e[-1] ^= 1
    b["entries"][2]["entry"] = base64.b64encode(bytes(e)).decode()
    must_fail("one entry byte changed", b, w, "modified")
    b = copy.deepcopy(cos)
    del b["entries"][1]
    must_fail("one entry removed", b, w, "missing")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle", nargs="?")
    ap.add_argument("--pubkey")
    ap.add_argument("--witness-key", action="append", default=[])
    ap.add_argument("--witness-quorum", type=int)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.bundle or not a.pubkey:
        ap.error("BUNDLE and --pubkey FILE are required")
    try:
        with open(a.pubkey) as f:
            name, pk = vkey_parse(f.read(), 0x01)
        wit = []
        for path in a.witness_key:
            with open(path) as f:
                wit.append(vkey_parse(f.read(), 0x04))
        quorum = a.witness_quorum or len(wit)
        if wit and not 1 <= quorum <= len(wit):
            ap.error("--witness-quorum must be 1 .. %d" % len(wit))
        with open(a.bundle, encoding="utf-8") as f:
            b = json.load(f)
        print(check(b, name, pk, wit, quorum))
        return 0
    except (Bad, ValueError, KeyError, TypeError, struct.error) as e:
        print("FAILED: %s" % e)
        return 3


if __name__ == "__main__":
    sys.exit(main())
