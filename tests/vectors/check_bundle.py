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
checkpoint.  A libvault-bundle/v2 bundle (§11 "Shard logs") is checked
too: each object of "logs" must name a log of the statement with its
size and root, its via entry must be a log_heads entry (decoded here
from §1's LVA2 layout) that claims exactly that tree, proved in the
checkpoint's tree, and each shard entry's proof must lead to its log's
claimed root.

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
TAG2 = "libvault-bundle/v2"
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
    parts = text.strip().split("+", 2)  # the base64 may hold '+' itself
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


def entry_action_detail(entry):
    """(seq, action, outcome, detail) of an LVA2 entry's bytes (§1)."""
    if entry[:4] != b"LVA2":
        raise Bad("a claim is not an LVA2 entry")
    (seq,) = struct.unpack_from("<Q", entry, 4)
    off = 4 + 8 + 8

    def string():
        nonlocal off
        (n,) = struct.unpack_from("<I", entry, off)
        v = entry[off + 4:off + 4 + n]
        if len(v) != n:
            raise Bad("a claim's bytes are cut short")
        off += 4 + n
        return v.decode("utf-8")

    for _ in range(10):  # user .. purpose, the five principal strings
        string()
    action = string()
    outcome, _flags, has_record = entry[off], entry[off + 1], entry[off + 2]
    off += 3 + (16 if has_record else 0) + 32
    (nreasons,) = struct.unpack_from("<H", entry, off)
    off += 2
    for _ in range(nreasons):
        string()
    (nfields,) = struct.unpack_from("<I", entry, off)
    off += 4
    for _ in range(nfields):
        string()
        off += 1 + 2
        off += 1 + (32 if entry[off - 1] else 0)
    detail = string()
    if off != len(entry):
        raise Bad("a claim has trailing bytes")
    return seq, action, outcome, detail


def claims_of(detail):
    """{log: (size, root)} of a log_heads detail: "SIZE ROOTHEX LOG\n" lines."""
    out = {}
    if detail and not detail.endswith("\n"):
        raise Bad("a claim line without its newline")
    for line in detail.split("\n")[:-1]:
        size, roothex, log = line.split(" ", 2)
        if str(int(size)) != size or int(size) < 1 or len(roothex) != 64 or log in out:
            raise Bad("a claim line does not parse")
        out[log] = (int(size), bytes.fromhex(roothex))
    return out


# ----------------------------------------------------------------- bundle


def seqs_line(line):
    seqs = [int(x) for x in line[4:].split(" ")[1:]] if line != "seqs" else []
    if line != "seqs" + "".join(" %d" % s for s in seqs) or seqs != sorted(set(seqs)):
        raise Bad("bundle statement: malformed (seqs)")
    return seqs


def statement_parse(text):
    """(tag, origin, size, root, record, seqs, logs, later); logs: [(name,
    size, root, seqs)] in the statement's order (v2)."""
    lines = text.split("\n")
    if not text.endswith("\n") or len(lines) < 7:
        raise Bad("bundle statement: malformed (too few lines)")
    lines = lines[:-1]
    if lines[0] not in (TAG, TAG2) or not lines[4].startswith("record ") or \
            not lines[5].startswith("seqs"):
        raise Bad("bundle statement: malformed")
    seqs, rest, logs, later = seqs_line(lines[5]), lines[6:], [], 0
    while lines[0] == TAG2 and rest and rest[0].startswith("log "):
        if len(rest) < 2:
            raise Bad("bundle statement: malformed (a log line without its seqs)")
        _, size, root, name = rest[0].split(" ", 3)
        if str(int(size)) != size or int(size) < 1 or (logs and name <= logs[-1][0]):
            raise Bad("bundle statement: malformed (a log line)")
        logs.append((name, int(size), base64.b64decode(root, validate=True), seqs_line(rest[1])))
        rest = rest[2:]
    if (lines[0] == TAG2) != bool(logs):
        raise Bad("bundle statement: malformed (v2 names its shard logs, v1 none)")
    if rest:
        w = rest[0].split(" ")
        if len(rest) != 1 or len(w) != 2 or w[0] != "later" or not w[1].isdigit() or \
                w[1][0] == "0":
            raise Bad("bundle statement: malformed (the later line)")
        later = int(w[1])
    return (lines[0], lines[1], int(lines[2]), base64.b64decode(lines[3]),
            bytes.fromhex(lines[4][7:]), seqs, logs, later)


def check(b, name, pk, witnesses, quorum):
    """The ok line, or raise Bad."""
    keys = ["bundle", "origin", "record", "checkpoint", "statement", "signature", "entries"]
    v2 = isinstance(b, dict) and b.get("bundle") == TAG2
    if not isinstance(b, dict) or sorted(b) != sorted(keys + (["logs"] if v2 else [])) or \
            b["bundle"] not in (TAG, TAG2):
        raise Bad("bundle: malformed")
    if b["origin"] != name:
        raise Bad("bundle: bad signature (another log)")
    text, sigs, size, root = checkpoint_verify(b["checkpoint"], name, pk)
    sig = base64.b64decode(b["signature"], validate=True)
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    if len(sig) != 68 or sig[:4] != kid or not ed25519_verify(pk, b["statement"].encode(), sig[4:]):
        raise Bad("bundle statement: bad signature")
    tag, origin, ssize, sroot, srecord, seqs, slogs, later = statement_parse(b["statement"])
    record = bytes.fromhex(b["record"])
    if origin != name or ssize != size or sroot != root or srecord != record or tag != b["bundle"]:
        raise Bad("bundle statement: modified (another log, tree, record or version)")
    # the lists: the city log's (""), then each shard log's in the statement's order
    order = [""] + [n for n, _, _, _ in slogs]
    trees = {"": (size, root, seqs)}
    trees.update({n: (z, r, q) for n, z, r, q in slogs})
    proved = {""}
    prev = None
    for lg in b.get("logs", []):
        if sorted(lg) != ["log", "root", "size", "via"] or sorted(lg["via"]) != \
                ["entry", "hashes", "seq"] or (prev is not None and lg["log"] <= prev):
            raise Bad("bundle: malformed (logs)")
        prev = lg["log"]
        if lg["log"] not in trees or lg["log"] == "" or \
                (lg["size"], base64.b64decode(lg["root"], validate=True)) != trees[lg["log"]][:2]:
            raise Bad("log %s: modified (the statement names another tree of it)" % lg["log"])
        if not trees[lg["log"]][2]:
            raise Bad("bundle: malformed (a log object for a log with no entries)")
        via = base64.b64decode(lg["via"]["entry"], validate=True)
        vseq, action, outcome, detail = entry_action_detail(via)
        if vseq != lg["via"]["seq"] or action != "log_heads" or outcome != 0 or \
                claims_of(detail).get(lg["log"]) != trees[lg["log"]][:2]:
            raise Bad("log %s: modified (its via entry does not claim that tree)" % lg["log"])
        vh = [base64.b64decode(h, validate=True) for h in lg["via"]["hashes"]]
        if vseq > size or inclusion_root(vseq - 1, size, leaf_hash(via), vh) != root:
            raise Bad("log %s: modified (its claim is not in the checkpoint's tree)" % lg["log"])
        proved.add(lg["log"])
    got = {n: [] for n in order}
    at = 0
    for e in b["entries"]:
        lg = e.get("log", "")
        if sorted(e) != sorted(["seq", "entry", "hashes"] + (["log"] if "log" in e else [])) or \
                ("log" in e and (not v2 or lg == "")):
            raise Bad("bundle: malformed (an entry)")
        if lg not in proved:
            raise Bad("entry %d: modified (not in a log whose tree the bundle proves)" % e["seq"])
        if order.index(lg) < at:
            raise Bad("entry %d: reordered (its log's entries came before)" % e["seq"])
        at = order.index(lg)
        tsize, troot, tseqs = trees[lg]
        seq, raw = e["seq"], base64.b64decode(e["entry"], validate=True)
        if got[lg] and seq <= got[lg][-1]:
            raise Bad("entry %d: reordered" % seq)
        eseq, erec = entry_seq_record(raw)
        if eseq != seq or erec != record or seq > tsize:
            raise Bad("entry %d: modified (sequence, record or tree)" % seq)
        hashes = [base64.b64decode(h, validate=True) for h in e["hashes"]]
        if inclusion_root(seq - 1, tsize, leaf_hash(raw), hashes) != troot:
            raise Bad("entry %d: modified (its proof does not lead to the root)" % seq)
        if seq not in tseqs:
            raise Bad("entry %d: modified (the statement does not list it)" % seq)
        got[lg].append(seq)
    for n in order:
        if got[n] != trees[n][2]:
            raise Bad("missing (the statement lists %d entries of log '%s', the bundle holds %d)"
                      % (len(trees[n][2]), n, len(got[n])))
    got = [s_ for n in order for s_ in got[n]]
    distinct = {pk_: n for n, pk_ in witnesses}
    have = sum(1 for pk_, n in distinct.items() if cosigned(text, sigs, n, pk_))
    if witnesses and have < quorum:
        raise Bad("checkpoint %d: unwitnessed (%d of the %d required cosignatures)" % (size, have, quorum))
    return "ok: %d entries of record %s in the tree of size %d%s%s%s" % (
        len(got), b["record"], size, " and %d shard log trees" % len(slogs) if slogs else "",
        "; %d later" % later if later else "", "; witnessed by %d" % have if witnesses else "")


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
    # v2: libvault's generated bundle across logs (fuzz/corpus), and edits
    v2path = os.path.join(HERE, "..", "..", "fuzz", "corpus", "fuzz_bundle", "gen-v2-logs.json")
    with open(v2path, encoding="utf-8") as f:
        v2 = json.load(f)
    print(check(v2, name, pk, [], 0))
    b = copy.deepcopy(v2)
    del b["entries"][2]
    must_fail("v2: a shard log's entry removed", b, [], "missing")
    b = copy.deepcopy(v2)
    b["entries"][1]["log"] = "hangzhou/other"
    must_fail("v2: an entry moved to another log", b, [], "not in a log whose tree")
    b = copy.deepcopy(v2)
    b["logs"][0]["via"]["seq"] -= 1
    must_fail("v2: the claim said to be another entry", b, [], "does not claim that tree")
    b = copy.deepcopy(v2)
    b["logs"][0]["via"]["hashes"][0] = base64.b64encode(b"\0" * 32).decode()
    must_fail("v2: the claim's proof changed", b, [], "not in the checkpoint's tree")
    b = copy.deepcopy(v2)
    del b["logs"]
    must_fail("v2: no logs", b, [], "bundle: malformed")
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
