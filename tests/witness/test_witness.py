#!/usr/bin/env python3
"""The witness end to end (docs/witness.md): real `vaultctl witness serve`
processes on free ports, fed checkpoints of a log whose key, entries,
Merkle roots and RFC 6962 consistency proofs are made here, independently
of libvault's C code (the Ed25519 and Merkle code of
tests/vectors/gen_audit_vectors.py, a consistency proof written from
RFC 6962 section 2.1.2).  The C client (witness_submit) and the
cosignature check (af_cosignature_verify) run through `vaultctl witness
submit|verify`.

    VAULTCTL=build/vaultctl python3 tests/witness/test_witness.py
"""

import base64
import glob
import hashlib
import http.client
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

SRC = os.environ.get("VAULT_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VAULTCTL = os.environ.get("VAULTCTL", os.path.join(SRC, "build", "vaultctl"))
sys.path.insert(0, os.path.join(SRC, "tests", "vectors"))
import gen_audit_vectors as av  # noqa: E402

ORIGIN = "libvault.test/witness-log"
SEED = bytes(range(0x40, 0x60))
OTHER_SEED = bytes(range(0x60, 0x80))


def leaves_of(n, tag=b"e"):
    return [av.leaf_hash(tag + b"%d" % i) for i in range(n)]


def subproof(m, leaves, whole):
    """RFC 6962 section 2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [av.mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], whole) + [av.mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [av.mth(leaves[:k])]


def consistency(m, leaves):
    return subproof(m, leaves, True) if 0 < m < len(leaves) else []


def log_vkey(origin=ORIGIN, seed=SEED):
    pub = av.ed25519_public(seed)
    return "%s+%s+%s" % (origin, av.note_keyid(origin, pub).hex(),
                         base64.b64encode(b"\x01" + pub).decode())


def note(leaves, origin=ORIGIN, seed=SEED):
    return av.checkpoint(origin, len(leaves), av.mth(leaves), seed)


def body(old, proof, cp):
    return (b"old %d\n" % old + b"".join(base64.b64encode(h) + b"\n" for h in proof)
            + b"\n" + cp)


def run(*args, check=True):
    # A bounded wait: a witness that starts where it must refuse fails here.
    p = subprocess.run([VAULTCTL] + list(args), capture_output=True, text=True, timeout=20)
    if check and p.returncode != 0:
        raise AssertionError("vaultctl %s: %d %s" % (" ".join(args), p.returncode, p.stderr))
    return p.returncode, p.stdout, p.stderr


class Witness:
    """One `vaultctl witness serve` process on a port of its choosing."""

    def __init__(self, tmp, name, logs):
        self.dir = os.path.join(tmp, name)
        self.key = os.path.join(tmp, name.replace("/", "_") + ".key")
        self.logs = logs
        if not os.path.exists(self.key):
            _, out, _ = run("witness", "keygen", "--name", "witness.test/" + name, "--out", self.key)
            self.vkey = out.strip()
        self.proc = None
        self.port = None

    def start(self, port=0):
        args = [VAULTCTL, "witness", "serve", "--state", self.dir, "--key", self.key,
                "--listen", "127.0.0.1:%d" % port]
        for lg in self.logs:
            args += ["--log", lg]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.wait(10)
            raise AssertionError("witness did not start: %s" % self.proc.stderr.read())
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def post(self, data, path="/add-checkpoint", method="POST"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request(method, path, body=data)
        r = c.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.read())
        c.close()
        return out

    def evidence(self):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.dir, "evidence", "*")))


class WitnessTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="witness-test-")
        self.witnesses = []

    def tearDown(self):
        for w in self.witnesses:
            w.stop()
        shutil.rmtree(self.tmp)

    def witness(self, name="w1", logs=None):
        w = Witness(self.tmp, name, logs or [log_vkey()])
        self.witnesses.append(w)
        return w.start()

    def cosigned(self, w, cp, line):
        """af_cosignature_verify (vaultctl witness verify) on cp + line."""
        path = os.path.join(self.tmp, "cosigned.txt")
        with open(path, "wb") as f:
            f.write(cp + line)
        rc, out, err = run("witness", "verify", "--witness", w.vkey, path, check=False)
        return rc, out + err

    def test_keygen(self):
        w = Witness(self.tmp, "kg", [])
        self.assertEqual(stat.S_IMODE(os.stat(w.key).st_mode), 0o600)
        name, keyid, key = w.vkey.split("+", 2)
        raw = base64.b64decode(key)
        self.assertEqual(name, "witness.test/kg")
        self.assertEqual(raw[0], 0x04)  # tlog-cosignature: Ed25519 cosignature/v1
        self.assertEqual(keyid, hashlib.sha256(name.encode() + b"\n\x04" + raw[1:]).digest()[:4].hex())
        self.assertEqual(run("witness", "pubkey", "--key", w.key)[1].strip(), w.vkey)
        # Never over an existing file; a key others can read is refused.
        rc, _, err = run("witness", "keygen", "--name", "x", "--out", w.key, check=False)
        self.assertEqual(rc, 1, err)
        os.chmod(w.key, 0o644)
        rc, _, err = run("witness", "pubkey", "--key", w.key, check=False)
        self.assertEqual(rc, 7, err)
        self.assertIn("readable by others", err)
        rc, _, err = run("witness", "keygen", "--name", "a b", "--out", w.key + "2", check=False)
        self.assertEqual(rc, 7, err)

    def test_protocol(self):
        w = self.witness()
        l5, l9 = leaves_of(5), leaves_of(9)
        cp5, cp9 = note(l5), note(l9)

        # A first checkpoint (old 0) is cosigned; the line verifies.
        st, ct, out = w.post(body(0, [], cp5))
        self.assertEqual(st, 200, out)
        self.assertTrue(out.startswith("\u2014 witness.test/w1 ".encode()), out)
        self.assertEqual(out.count(b"\n"), 1)
        rc, msg = self.cosigned(w, cp5, out)
        self.assertEqual(rc, 0, msg)
        # ... and fails once the checkpoint changes (another size line).
        rc, msg = self.cosigned(w, cp5.replace(b"\n5\n", b"\n6\n", 1), out)
        self.assertEqual(rc, 3, msg)
        # ... or for another witness key.
        other = Witness(self.tmp, "other", [])
        rc, _, err = run("witness", "verify", "--witness", other.vkey,
                         os.path.join(self.tmp, "cosigned.txt"), check=False)
        self.assertEqual(rc, 3, err)

        # A larger one with a valid proof from 5.
        st, _, out = w.post(body(5, consistency(5, l9), cp9))
        self.assertEqual(st, 200, out)
        self.assertEqual(self.cosigned(w, cp9, out)[0], 0)

        # A wrong old size: 409 with the witness's size.
        st, ct, out = w.post(body(5, consistency(5, l9), cp9))
        self.assertEqual((st, ct, out), (409, "text/x.tlog.size", b"9\n"))
        st, ct, out = w.post(body(0, [], cp9))
        self.assertEqual((st, out), (409, b"9\n"))

        # A bad proof: 422, kept as evidence (signed by the log).
        l12 = leaves_of(12)
        proof = consistency(9, l12)
        bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1])] + proof[1:]
        st, _, out = w.post(body(9, bad, note(l12)))
        self.assertEqual(st, 422, out)
        self.assertEqual(out.count(b"\n"), 1)
        st, _, out = w.post(body(9, proof[:-1], note(l12)))
        self.assertEqual(st, 422, out)
        self.assertTrue(any("-12-inconsistent-" in e for e in w.evidence()), w.evidence())

        # Signed by another key: 403; another origin: 404.
        st, _, out = w.post(body(9, proof, note(l12, seed=OTHER_SEED)))
        self.assertEqual(st, 403, out)
        st, _, out = w.post(body(0, [], note(l5, origin="libvault.test/unknown")))
        self.assertEqual(st, 404, out)

        # old over the checkpoint's size: 400.  Malformed bodies: 400, one line.
        st, _, out = w.post(body(12, [], cp9))
        self.assertEqual(st, 400, out)
        for junk in [b"", b"old\n\n" + cp9, b"old 09\n\n" + cp9, b"old 9\n" + cp9,
                     b"old 9\nAAAA\n\n" + cp9, b"old 0\n" + base64.b64encode(bytes(32)) + b"\n\n" + cp9,
                     b"old 9\n\n", b"old 9\n\n" + ORIGIN.encode() + b"\nnine\n\n",
                     b"old 9\n\n" + cp9[:-1], b"old 18446744073709551616\n\n" + cp9,
                     b"old 9\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\n" + cp9,
                     b"old 9\n\n" + cp9.replace(b"\n9\n", b"\n+9\n"), b"\xff\xfe\n\n"]:
            st, _, out = w.post(junk)
            self.assertEqual(st, 400, (junk, out))
            self.assertEqual(out.count(b"\n"), 1, out)
        self.assertEqual(w.post(b"old 9\n\nnot a note\n")[0], 404)
        st, _, out = w.post(b"old 9\n\n" + b"x" * 20000)
        self.assertEqual(st, 413, out)
        self.assertEqual(w.post(b"", method="GET")[0], 405)
        self.assertEqual(w.post(body(0, [], cp5), path="/other")[0], 404)

        # The good proof still works after all that.
        st, _, out = w.post(body(9, proof, note(l12)))
        self.assertEqual(st, 200, out)
        # The same checkpoint again: cosigned again (no proof between equal sizes).
        st, _, out = w.post(body(12, [], note(l12)))
        self.assertEqual(st, 200, out)
        st, _, out = w.post(body(12, [bytes(32)], note(l12)))
        self.assertEqual(st, 422, out)

    def test_split_view_and_restart(self):
        w = self.witness()
        l9 = leaves_of(9)
        self.assertEqual(w.post(body(0, [], note(l9)))[0], 200)
        # Another history of the same size, signed by the log: refused (409)
        # and kept as evidence, both checkpoints of size 9.
        fork = l9[:4] + leaves_of(5, b"fork")
        req = body(9, [], note(fork))
        st, ct, out = w.post(req)
        self.assertEqual((st, ct, out), (409, "text/x.tlog.size", b"9\n"))
        ev = [e for e in w.evidence() if "-9-split-" in e]
        self.assertEqual(len(ev), 2, w.evidence())
        with open(os.path.join(w.dir, "evidence", [e for e in ev if e.endswith(".request")][0]), "rb") as f:
            self.assertEqual(f.read(), req)
        with open(os.path.join(w.dir, "evidence", [e for e in ev if e.endswith(".held")][0]), "rb") as f:
            self.assertEqual(f.read(), note(l9))
        # The fork continued to 12 with a proof from the real 9: 422.
        fork12 = fork + leaves_of(3, b"more")
        self.assertEqual(w.post(body(9, consistency(9, fork12), note(fork12)))[0], 422)

        # Restarted from its state: it still holds 9, never cosigns smaller.
        w.stop()
        w.start()
        l5 = l9[:5]
        self.assertEqual(w.post(body(0, [], note(l5))), (409, "text/x.tlog.size", b"9\n"))
        self.assertEqual(w.post(body(9, [], note(l5)))[0], 400)
        self.assertEqual(w.post(body(9, [], note(fork)))[0], 409)
        l15 = leaves_of(15)
        self.assertEqual(w.post(body(9, consistency(9, l15), note(l15)))[0], 200)
        w.stop()
        w.start()
        self.assertEqual(w.post(body(9, consistency(9, l15), note(l15)))[:3:2], (409, b"15\n"))

        # A second witness process on the same state is refused.
        rc, _, err = run("witness", "serve", "--state", w.dir, "--key", w.key, "--listen",
                         "127.0.0.1:0", "--log", log_vkey(), check=False)
        self.assertEqual(rc, 1, err)
        self.assertIn("in use", err)
        # A state file that is not the log's signed checkpoint: the witness
        # does not start (it would otherwise forget what it cosigned).
        w.stop()
        state = glob.glob(os.path.join(w.dir, "logs", "*.checkpoint"))
        self.assertEqual(len(state), 1)
        with open(state[0], "rb") as f:
            held = f.read()
        with open(state[0], "wb") as f:
            f.write(note(l5, seed=OTHER_SEED))
        rc, _, err = run("witness", "serve", "--state", w.dir, "--key", w.key, "--listen",
                         "127.0.0.1:0", "--log", log_vkey(), check=False)
        self.assertEqual(rc, 3, err)
        self.assertIn("does not verify", err)
        with open(state[0], "wb") as f:
            f.write(held)
        w.start()
        self.assertEqual(w.post(body(0, [], note(l5)))[2], b"15\n")

    def test_real_vault(self):
        """A vault's own checkpoints, with proofs from its exported entries."""
        v, k = os.path.join(self.tmp, "street.vault"), os.path.join(self.tmp, "street.key")
        run("init", "--vault", v, "--policy", os.path.join(SRC, "policies", "community.yaml"),
            "--key-file", k)
        opts = ["--vault", v, "--key-file", k]
        vkey = run(*opts, "audit", "pubkey")[1].strip()
        w = self.witness("wv", logs=[vkey])
        cp1 = run(*opts, "audit", "checkpoint")[1].encode()
        run(*opts, "audit", "verify")
        cp2 = run(*opts, "audit", "checkpoint")[1].encode()
        export = run(*opts, "audit", "export")[1]
        leaves = [av.leaf_hash(base64.b64decode(json.loads(line)["entry"]))
                  for line in export.splitlines() if '"entry"' in line]
        n1, n2 = int(cp1.split(b"\n")[1]), int(cp2.split(b"\n")[1])
        self.assertLess(n1, n2)
        self.assertIn(base64.b64encode(av.mth(leaves[:n2])), cp2)  # the same tree, computed here
        self.assertEqual(w.post(body(0, [], cp1))[0], 200)
        st, _, line = w.post(body(n1, consistency(n1, leaves[:n2]), cp2))
        self.assertEqual(st, 200, line)
        self.assertEqual(self.cosigned(w, cp2, line)[0], 0)
        # It witnesses this vault only: the test log is unknown here.
        self.assertEqual(w.post(body(0, [], note(leaves_of(3))))[0], 404)

    def test_concurrent_requests_serialized(self):
        w = self.witness()
        l8 = leaves_of(8)
        self.assertEqual(w.post(body(0, [], note(l8)))[0], 200)
        big = leaves_of(20)
        reqs = [body(8, consistency(8, big[:n]), note(big[:n])) for n in range(9, 17)]
        results = [None] * len(reqs)

        def go(i):
            results[i] = w.post(reqs[i])

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(reqs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [i for i, r in enumerate(results) if r[0] == 200]
        self.assertEqual(len(won), 1, results)
        size = 9 + won[0]
        for i, r in enumerate(results):
            if i != won[0]:
                self.assertEqual(r[:3:2], (409, b"%d\n" % size), r)
        self.assertEqual(w.post(body(0, [], note(l8)))[2], b"%d\n" % size)

    def test_two_witnesses_one_down(self):
        """The C client (witness_submit) against two witnesses, one stopped
        and then restarted: it catches up from the size its 409 gives."""
        a, b = self.witness("wa"), self.witness("wb")
        cpfile = os.path.join(self.tmp, "cp.txt")
        prooffile = os.path.join(self.tmp, "proof.txt")

        def submit(w, leaves, old):
            with open(cpfile, "wb") as f:
                f.write(note(leaves))
            with open(prooffile, "wb") as f:
                f.write(b"".join(base64.b64encode(h) + b"\n" for h in consistency(old, leaves)))
            return run("witness", "submit", "--url", w.url, "--witness", w.vkey, "--checkpoint",
                       cpfile, "--old", str(old), "--proof", prooffile, check=False)

        history = leaves_of(30)
        for w in (a, b):
            rc, out, err = submit(w, history[:4], 0)
            self.assertEqual(rc, 0, err)
            self.assertEqual(self.cosigned(w, note(history[:4]), out.encode())[0], 0)
        b.stop()
        port_b = b.port
        held = {a: 4, b: 4}
        for n in (7, 11, 18):
            rc, out, err = submit(a, history[:n], held[a])
            self.assertEqual(rc, 0, err)
            held[a] = n
            rc, out, err = submit(b, history[:n], held[b])
            self.assertEqual(rc, 1, err)  # down: the client says so, nothing cosigned
            self.assertIn("witness witness.test/wb", err)
        b.start(port_b)
        # The client does not know b's size: old 0 gives it (409), then a
        # proof from that size gets the cosignature.
        rc, out, err = submit(b, history[:18], 0)
        self.assertEqual(rc, 1, err)
        self.assertIn("holds size 4", err)
        rc, out, err = submit(b, history[:18], 4)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.cosigned(b, note(history[:18]), out.encode())[0], 0)
        # Client-side classes: a split view, a bad proof, a forged log key,
        # an unknown log.
        fork = history[:17] + leaves_of(1, b"fork")
        rc, _, err = submit(b, fork, 18)
        self.assertEqual(rc, 3, err)
        self.assertIn("split view", err)
        with open(cpfile, "wb") as f:
            f.write(note(history[:20]))
        with open(prooffile, "wb") as f:
            f.write(base64.b64encode(bytes(32)) + b"\n")
        rc, _, err = run("witness", "submit", "--url", b.url, "--witness", b.vkey, "--checkpoint",
                         cpfile, "--old", "18", "--proof", prooffile, check=False)
        self.assertEqual(rc, 3, err)
        self.assertIn("does not verify", err)
        with open(cpfile, "wb") as f:
            f.write(note(history[:20], seed=OTHER_SEED))
        rc, _, err = run("witness", "submit", "--url", b.url, "--witness", b.vkey, "--checkpoint",
                         cpfile, "--old", "0", check=False)
        self.assertEqual(rc, 6, err)
        with open(cpfile, "wb") as f:
            f.write(note(history[:20], origin="libvault.test/unknown"))
        rc, _, err = run("witness", "submit", "--url", b.url, "--witness", b.vkey, "--checkpoint",
                         cpfile, check=False)
        self.assertEqual(rc, 5, err)
        # A cosignature by another witness's key is not accepted as b's.
        rc, _, err = submit(a, history[:18], 18)
        self.assertEqual(rc, 0, err)
        with open(cpfile, "wb") as f:
            f.write(note(history[:18]))
        rc, _, err = run("witness", "submit", "--url", a.url, "--witness", b.vkey, "--checkpoint",
                         cpfile, "--old", "18", check=False)
        self.assertEqual(rc, 3, err)
        self.assertIn("no valid cosignature", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
