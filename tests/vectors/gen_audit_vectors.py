#!/usr/bin/env python3
"""Generate the audit-log known-answer vectors (docs/audit-format.md).

Standard library only, and written from the specification alone, so that
tests/test_audit_format.c checks libvault's C code against an independent
implementation of every format:

  tests/vectors/audit.txt           entries (canonical bytes), leaf hashes,
                                    chain heads, Merkle roots 0..7, note key
  tests/vectors/checkpoint.txt      the signed checkpoint note for size 7
  tests/vectors/audit_export.jsonl  an export (checkpoint line + 7 entries)

and for format version 2 (LVA2: the principal, a table of distinct reasons),
entries 8 ... 10 continuing the same log, as a migrated log continues:

  tests/vectors/audit_v2.txt           entries 8 ... 10, roots 8 ... 10
  tests/vectors/checkpoint_v2.txt      the signed checkpoint note for size 10
  tests/vectors/checkpoint_v2_time.txt the same with the "timestamp" extension line
  tests/vectors/audit_export_v2.jsonl  an export (checkpoint line + all 10)

Ed25519 is the RFC 8032 section 6 algorithm in pure Python (slow, not
constant time: fine for fixed test keys, never for real ones).

Run from anywhere:  python3 tests/vectors/gen_audit_vectors.py
"""

import base64
import datetime
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- Ed25519

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _inv(x):
    return pow(x, P - 2, P)


def _add(a, b):
    # Extended twisted Edwards coordinates (X, Y, Z, T).
    aa = (a[1] - a[0]) * (b[1] - b[0]) % P
    bb = (a[1] + a[0]) * (b[1] + b[0]) % P
    cc = 2 * a[3] * b[3] * D % P
    dd = 2 * a[2] * b[2] % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _recover_x(y, sign):
    x2 = (y * y - 1) * _inv(D * y * y + 1) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    assert (x * x - x2) % P == 0
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * _inv(5) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _compress(pt):
    zi = _inv(pt[2])
    x, y = pt[0] * zi % P, pt[1] * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed):
    a, _ = _expand(seed)
    return _compress(_mul(a, G))


def ed25519_sign(seed, msg):
    a, prefix = _expand(seed)
    pub = _compress(_mul(a, G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % L
    rr = _compress(_mul(r, G))
    k = int.from_bytes(hashlib.sha512(rr + pub + msg).digest(), "little") % L
    return rr + ((r + k * a) % L).to_bytes(32, "little")


# RFC 8032 section 7.1, TEST 1: refuse to write vectors if this is wrong.
_T1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
assert ed25519_public(_T1).hex() == (
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
assert ed25519_sign(_T1, b"").hex() == (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
    "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")

# ------------------------------------------------------- canonical entries

OUTCOMES = ["ok", "denied", "error"]
EFFECTS = ["deny", "mask", "allow"]
DENY, MASK, ALLOW = 0, 1, 2
BREAK_GLASS = 0x01


def s(text):
    b = text.encode("utf-8")
    assert b"\x00" not in b
    return struct.pack("<I", len(b)) + b


def encode(e):
    out = b"LVA1"
    out += struct.pack("<Qq", e["seq"], e["time_us"])
    for k in ("user", "role", "department", "jurisdiction", "purpose", "action"):
        out += s(e[k])
    out += bytes([e["outcome"], e["flags"]])
    if e["record"] is None:
        out += b"\x00"
    else:
        out += b"\x01" + e["record"]
    out += e["policy"]
    out += struct.pack("<I", len(e["fields"]))
    for name, effect, reason, ct in e["fields"]:
        out += s(name) + bytes([effect]) + s(reason)
        out += b"\x00" if ct is None else b"\x01" + ct
    out += s(e["detail"])
    return out


def encode_v2(e):
    """LVA2: the principal after the subject, and each distinct reason once
    (in order of first use), named by a u16 index from each field."""
    out = b"LVA2"
    out += struct.pack("<Qq", e["seq"], e["time_us"])
    for k in ("user", "role", "department", "jurisdiction", "purpose",
              "issuer", "subject", "token_id", "app", "peer", "action"):
        out += s(e[k])
    out += bytes([e["outcome"], e["flags"]])
    if e["record"] is None:
        out += b"\x00"
    else:
        out += b"\x01" + e["record"]
    out += e["policy"]
    table = []
    for _, _, reason, _ in e["fields"]:
        if reason not in table:
            table.append(reason)
    out += struct.pack("<H", len(table))
    for reason in table:
        out += s(reason)
    out += struct.pack("<I", len(e["fields"]))
    for name, effect, reason, ct in e["fields"]:
        out += s(name) + bytes([effect]) + struct.pack("<H", table.index(reason))
        out += b"\x00" if ct is None else b"\x01" + ct
    out += s(e["detail"])
    return out


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(entry):
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def chain_next(prev, leaf):
    return sha256(b"\x02" + prev + leaf)


def mth(leaves):
    """RFC 6962 section 2.1 Merkle Tree Hash over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


POLICY = bytes(range(0x20, 0x40))
RECORD = bytes(range(0xB0, 0xC0))
T0 = 1709251200123456  # 2024-03-01T00:00:00.123456Z

ENTRIES = [
    dict(seq=1, time_us=T0, user="wang.fang", role="grid_worker",
         department="street_office",
         jurisdiction="hangzhou/shangcheng/xiaohe/changzheng/grid-07",
         purpose="household_visit", action="read", outcome=0, flags=0,
         record=RECORD, policy=POLICY,
         fields=[("name", ALLOW, "rule grid-read-basic (policy.yaml:42)", None),
                 ("phone", MASK, "rule grid-mask-phone (policy.yaml:57)", None),
                 ("health", DENY, "default deny", None)],
         detail=""),
    dict(seq=2, time_us=T0 + 1500000, user="李娜", role="网格员",
         department="小河街道", jurisdiction="杭州/上城/小河/长征/第七网格",
         purpose="入户走访", action="write", outcome=0, flags=BREAK_GLASS,
         record=RECORD, policy=POLICY,
         fields=[("address", ALLOW, "grant g-17", bytes(range(0x40, 0x60)))],
         detail="紧急情况：独居老人"),
    dict(seq=3, time_us=T0 + 60000000, user="admin", role="data_officer",
         department="civil_affairs", jurisdiction="hangzhou", purpose="",
         action="keyslot_add", outcome=0, flags=0, record=None, policy=POLICY,
         fields=[], detail="slot 2"),
    dict(seq=4, time_us=T0 + 61000001, user="zhao.lei", role="hotline_agent",
         department="hotline_12345", jurisdiction="hangzhou/shangcheng",
         purpose="complaint_followup", action="search", outcome=1, flags=0,
         record=None, policy=POLICY,
         fields=[("id_number", DENY, "default deny", None)], detail=""),
    dict(seq=5, time_us=T0 + 3600000000, user="chen.jing", role="data_officer",
         department="civil_affairs", jurisdiction="hangzhou/shangcheng",
         purpose="statistics", action="export", outcome=2, flags=0,
         record=None, policy=POLICY, fields=[], detail="disk full"),
    dict(seq=6, time_us=T0 + 3600000007, user="chen.jing", role="data_officer",
         department="civil_affairs", jurisdiction="hangzhou/shangcheng",
         purpose="case_review", action="grant", outcome=0, flags=0,
         record=RECORD, policy=POLICY,
         fields=[("health", MASK, "grant g-18", None),
                 ("social_assistance", ALLOW, "grant g-18", None)],
         detail="grant g-18 until 2024-04-01"),
    dict(seq=7, time_us=T0 + 86400000000, user="wang.fang", role="grid_worker",
         department="street_office",
         jurisdiction="hangzhou/shangcheng/xiaohe/changzheng/grid-07",
         purpose="household_visit", action="erase", outcome=0, flags=0,
         record=RECORD, policy=POLICY,
         fields=[("phone", ALLOW, "rule grid-erase (policy.yaml:80)",
                  sha256(b"new ciphertext"))],
         detail="resident moved away"),
]

# Entries 8 ... 10 (LVA2): a read through the service by an app with a
# person's token, an embedded administrator, an import by an app alone.
HOTLINE_READ = "allow by rule hotline-read (policy.yaml:90)"
IMPORT_WRITE = "allow by rule data-officer-records (community.yaml:218)"
ENTRIES_V2 = [
    dict(seq=8, time_us=T0 + 86400000001, user="zhao.lei", role="hotline_agent",
         department="hotline_12345", jurisdiction="hangzhou/shangcheng",
         purpose="complaint_followup", issuer="https://id.hangzhou.example",
         subject="330102-0042", token_id="tok-8f3a", app="hotline-12345",
         peer="tls:192.0.2.7:51234", action="read", outcome=0, flags=0,
         record=RECORD, policy=POLICY,
         fields=[("name", ALLOW, HOTLINE_READ, None),
                 ("phone", ALLOW, HOTLINE_READ, None),
                 ("health", DENY, "deny: no rule or grant allows read of health (default deny)",
                  None)],
         detail=""),
    dict(seq=9, time_us=T0 + 86401000000, user="os:root", role="", department="",
         jurisdiction="", purpose="", issuer="", subject="", token_id="", app="",
         peer="local:uid=0,pid=4242", action="policy_apply", outcome=0, flags=0,
         record=None, policy=POLICY, fields=[], detail="policy v2"),
    dict(seq=10, time_us=T0 + 86402000000, user="李娜", role="data_officer",
         department="street_office", jurisdiction="hangzhou/shangcheng/xiaohe",
         purpose="resident_service", issuer="", subject="", token_id="",
         app="import-batch", peer="unix:uid=998", action="create", outcome=0, flags=0,
         record=bytes(range(0xD0, 0xE0)), policy=POLICY,
         fields=[("name", ALLOW, IMPORT_WRITE, sha256(b"ct name")),
                 ("phone", ALLOW, IMPORT_WRITE, sha256(b"ct phone")),
                 ("address", ALLOW, IMPORT_WRITE, sha256(b"ct address"))],
         detail="import residents.csv row 2 (create: allow by rule data-officer-records "
                "(community.yaml:218))"),
]

# ------------------------------------------------------------- checkpoint

SEED = bytes(range(0xC0, 0xE0))
ORIGIN = "libvault.test/vectors"


def note_keyid(name, pub):
    return sha256(name.encode() + b"\n" + b"\x01" + pub)[:4]


def checkpoint(origin, size, root, seed, time=0):
    text = ("%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())).encode()
    if time:
        text += b"timestamp %d\n" % time  # libvault's signed-time extension line
    pub = ed25519_public(seed)
    sig = note_keyid(origin, pub) + ed25519_sign(seed, text)
    line = "\u2014 %s %s\n" % (origin, base64.b64encode(sig).decode())
    return text + b"\n" + line.encode("utf-8")


# ---------------------------------------------------------------- export


def rfc3339(us):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % t.microsecond


def export_line(e, raw, head):
    o = {
        "seq": e["seq"],
        "entry": base64.b64encode(raw).decode(),
        "head": head.hex(),
        "time": rfc3339(e["time_us"]),
        "user": e["user"], "role": e["role"], "department": e["department"],
        "jurisdiction": e["jurisdiction"], "purpose": e["purpose"],
    }
    if raw[:4] == b"LVA2":  # LVA1 entries recorded no principal
        for k in ("issuer", "subject", "token_id", "app", "peer"):
            o[k] = e[k]
    o.update({
        "action": e["action"], "outcome": OUTCOMES[e["outcome"]],
        "break_glass": bool(e["flags"] & BREAK_GLASS),
        "record": None if e["record"] is None else e["record"].hex(),
        "policy_sha256": e["policy"].hex(),
        "fields": [{"name": n, "effect": EFFECTS[f], "reason": r,
                    "ct_sha256": None if c is None else c.hex()}
                   for n, f, r, c in e["fields"]],
        "detail": e["detail"],
    })
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


def main():
    raws = [encode(e) for e in ENTRIES]
    leaves = [leaf_hash(r) for r in raws]
    heads, h = [], bytes(32)
    for lf in leaves:
        h = chain_next(h, lf)
        heads.append(h)
    pub = ed25519_public(SEED)
    root7 = mth(leaves)
    note = checkpoint(ORIGIN, len(leaves), root7, SEED)

    out = ["# Audit log known-answer vectors (docs/audit-format.md).",
           "# Generated by tests/vectors/gen_audit_vectors.py (Python standard library",
           "# only, independent of libvault's C code).  Do not edit by hand.",
           "# entry SEQ CANONICAL_HEX LEAF_HEX HEAD_HEX",
           "#   leaf = SHA-256(00 | entry); head = SHA-256(02 | previous head | leaf),",
           "#   the head before entry 1 is 32 zero bytes",
           ]
    for e, r, lf, hd in zip(ENTRIES, raws, leaves, heads):
        out.append("entry %d %s %s %s" % (e["seq"], r.hex(), lf.hex(), hd.hex()))
    out.append("# root SIZE MTH_HEX: RFC 6962 Merkle Tree Hash over the first SIZE leaves")
    for n in range(0, len(leaves) + 1):
        out.append("root %d %s" % (n, mth(leaves[:n]).hex()))
    out.append("# Checkpoint key: Ed25519 seed (libsodium crypto_sign_seed_keypair),")
    out.append("# public key, note key name (= origin) and key id")
    out.append("# keyid = SHA-256(name | 0a | 01 | public key)[0:4]")
    out.append("seed %s" % SEED.hex())
    out.append("pubkey %s" % pub.hex())
    out.append("origin %s" % ORIGIN)
    out.append("keyid %s" % note_keyid(ORIGIN, pub).hex())
    out.append("# checkpoint.txt: the signed note for size %d, whose text is (hex)" % len(leaves))
    out.append("notetext %s" % note[:note.index(b"\n\n") + 1].hex())
    with open(os.path.join(HERE, "audit.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(HERE, "checkpoint.txt"), "wb") as f:
        f.write(note)
    lines = [json.dumps({"checkpoint": note.decode("utf-8")}, ensure_ascii=False,
                        separators=(",", ":"))]
    lines += [export_line(e, r, hd) for e, r, hd in zip(ENTRIES, raws, heads)]
    with open(os.path.join(HERE, "audit_export.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")

    # LVA2: entries 8 ... 10 continue the chain and the tree of 1 ... 7.
    raws2 = [encode_v2(e) for e in ENTRIES_V2]
    leaves2 = [leaf_hash(r) for r in raws2]
    heads2 = []
    for lf in leaves2:
        h = chain_next(h, lf)
        heads2.append(h)
    every = leaves + leaves2
    note10 = checkpoint(ORIGIN, len(every), mth(every), SEED)
    out = ["# Audit log known-answer vectors, format version 2 (docs/audit-format.md).",
           "# Generated by tests/vectors/gen_audit_vectors.py (Python standard library",
           "# only, independent of libvault's C code).  Do not edit by hand.",
           "# Entries 8 ... 10 (LVA2) follow entries 1 ... 7 of audit.txt (LVA1) in one",
           "# log, as in a vault whose log began before LVA2; key as in audit.txt.",
           "# entry SEQ CANONICAL_HEX LEAF_HEX HEAD_HEX (head chained from entry 7's)",
           ]
    for e, r, lf, hd in zip(ENTRIES_V2, raws2, leaves2, heads2):
        out.append("entry %d %s %s %s" % (e["seq"], r.hex(), lf.hex(), hd.hex()))
    out.append("# root SIZE MTH_HEX: over the leaves of entries 1 ... SIZE")
    for n in range(len(leaves) + 1, len(every) + 1):
        out.append("root %d %s" % (n, mth(every[:n]).hex()))
    out.append("# checkpoint_v2.txt: the signed note for size %d, whose text is (hex)"
               % len(every))
    out.append("notetext %s" % note10[:note10.index(b"\n\n") + 1].hex())
    with open(os.path.join(HERE, "audit_v2.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(HERE, "checkpoint_v2.txt"), "wb") as f:
        f.write(note10)
    # the same checkpoint with its signed time, 2026-12-01T00:00:00Z
    with open(os.path.join(HERE, "checkpoint_v2_time.txt"), "wb") as f:
        f.write(checkpoint(ORIGIN, len(every), mth(every), SEED, time=1796083200))
    lines = [json.dumps({"checkpoint": note10.decode("utf-8")}, ensure_ascii=False,
                        separators=(",", ":"))]
    lines += [export_line(e, r, hd) for e, r, hd in
              zip(ENTRIES + ENTRIES_V2, raws + raws2, heads + heads2)]
    with open(os.path.join(HERE, "audit_export_v2.jsonl"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
