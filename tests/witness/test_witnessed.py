#!/usr/bin/env python3
"""A vault's checkpoints witnessed (docs/witness.md "Submitting from a
vault", issue 16): two real `vaultctl witness serve` processes and a real
vault, embedded (vaultctl) and behind vaultd.

- the policy pins both witnesses with witness_quorum 2; checkpoints are
  cosigned by the live one while the other is stopped, and
  `audit verify` says unwitnessed (exit 3) until the restarted one has
  caught up through a consistency proof from the size it last cosigned;
- a witness that holds a size the vault never stored a cosignature for
  answers 409 with it, and the vault catches it up from there;
- an export verified offline with the witness keys (quorum 2 and 1), and
  with a cosignature line altered: not counted, no crash;
- a cosignature altered in the store through the stock sqlcipher shell:
  the checkpoint row's MAC fails (bad signature);
- policy errors (FILE:LINE:COL) and policy diffs;
- vaultd submitting from its thread, and refusing to start with an
  audit.witnesses key the policy does not pin.

    VAULTCTL=build/vaultctl VAULTD=build/vaultd python3 tests/witness/test_witnessed.py
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from test_witness import SRC, VAULTCTL, Witness, run  # noqa: E402
import vaultd_harness  # noqa: E402

POLICY = os.path.join(SRC, "policies", "community.yaml")
VAULTD = os.environ.get("VAULTD", os.path.join(SRC, "build", "vaultd"))


def policy_with(witnesses, quorum=None, extra=""):
    """community.yaml with a witnesses: section; witnesses: [(vkey, url or None)]."""
    with open(POLICY) as f:
        text = f.read()
    text += "\nwitnesses:\n"
    for key, url in witnesses:
        text += "  - key: %s\n" % key
        if url:
            text += "    url: %s\n" % url
    if quorum is not None:
        text += "witness_quorum: %s\n" % quorum
    return text + extra


class Witnessed(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="witnessed-test-")
        self.v = os.path.join(self.tmp, "street.vault")
        self.k = os.path.join(self.tmp, "street.key")
        run("init", "--vault", self.v, "--policy", POLICY, "--key-file", self.k)
        self.logkey = self.vc("audit", "pubkey")[1].strip()
        self.logkey_file = self.write("log.vkey", self.logkey + "\n")
        self.witnesses = []

    def tearDown(self):
        for w in self.witnesses:
            w.stop()
        shutil.rmtree(self.tmp)

    def vc(self, *args, check=True):
        return run("--vault", self.v, "--key-file", self.k, *args, check=check)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def witness(self, name):
        w = Witness(self.tmp, name, [self.logkey])
        self.witnesses.append(w)
        w.start()
        w.keyfile = self.write(name + ".vkey", w.vkey + "\n")
        return w

    def restart(self, w):
        port = w.port
        w.start(port)  # the same URL the policy names

    def apply(self, text, name="p.yaml"):
        return self.vc("policy", "apply", self.write(name, text))

    def verify(self):
        return self.vc("audit", "verify", check=False)

    def witness_log(self, w):
        """The witness's request lines so far (it logs one per request)."""
        return w.proc.stderr  # read at stop

    def notes(self):
        """The stored checkpoints as an export shows them: [(size, note)]."""
        path = os.path.join(self.tmp, "e%d.jsonl" % time.monotonic_ns())
        self.vc("audit", "export", "--out", path)
        out = []
        with open(path) as f:
            for line in f:
                o = json.loads(line)
                if "checkpoint" not in o:
                    break
                out.append((int(o["checkpoint"].split("\n")[1]), o["checkpoint"]))
        return path, out

    def cosigners(self, note):
        return sorted(set(re.findall(r"^\u2014 (witness\.test/\S+) ", note, re.M)))

    # ------------------------------------------------------------------

    def test_two_witnesses_one_down(self):
        w1, w2 = self.witness("w1"), self.witness("w2")
        out = self.apply(policy_with([(w1.vkey, w1.url), (w2.vkey, w2.url)], 2))[1]
        self.assertIn("+ witness " + w1.vkey, out)
        self.assertIn("~ witness_quorum 0->2", out)
        # The checkpoint signed when `policy apply` closed went to both.
        rc, out, err = self.verify()
        self.assertEqual(rc, 0, out + err)
        w2.stop()
        self.assertEqual(self.verify()[0], 0)  # the newest was cosigned before the stop
        # From now on only w1 cosigns: verification requiring 2 of 2 fails.
        rc, out, err = self.verify()
        self.assertEqual(rc, 3, out + err)
        self.assertEqual(out, "")  # a failure goes to standard error
        self.assertIn("FAILED: unwitnessed", err)
        self.assertIn("1 of 2 required cosignatures: witness.test/w1", err)
        _, notes = self.notes()
        self.assertEqual(self.cosigners(notes[-2][1]), ["witness.test/w1"])
        # By hand: w1 had it, w2 is unreachable (exit 1, one line each).
        rc, out, err = self.vc("audit", "witness", check=False)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("witness.test/w1: had cosigned", out)
        self.assertIn("witness.test/w2: not cosigned", out)
        # Restarted, w2 catches up from the size it last cosigned.
        self.restart(w2)
        rc, out, err = self.vc("audit", "witness", check=False)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("witness.test/w2: cosigned checkpoint", out)
        self.assertEqual(self.verify()[0], 0)
        w2.stop()
        log = w2.proc_log
        m = re.findall(r"old (\d+) size (\d+): 200", log)
        self.assertTrue(any(0 < int(a) < int(b) for a, b in m), log)  # a consistency proof
        self.restart(w2)

        # Offline: the export with the witness keys.
        path, notes = self.notes()
        self.assertEqual(self.cosigners(notes[-1][1]), ["witness.test/w1", "witness.test/w2"])
        args = ["audit", "verify", "--export", path, "--pubkey", self.logkey_file]
        rc, out, err = run(*args, "--witness-key", w1.keyfile, "--witness-key", w2.keyfile)
        self.assertEqual(rc, 0, out + err)
        # A cosignature line altered in the export is not counted.
        with open(path) as f:
            lines = f.read().split("\n")
        newest = max((i for i, l in enumerate(lines) if l.startswith('{"checkpoint"')),
                     key=lambda i: int(json.loads(lines[i])["checkpoint"].split("\n")[1]))
        note = json.loads(lines[newest])["checkpoint"]
        sig = re.search(r"^\u2014 witness\.test/w2 (\S+)$", note, re.M).group(1)
        raw = bytearray(base64.b64decode(sig))
        raw[-1] ^= 1
        lines[newest] = json.dumps({"checkpoint": note.replace(sig, base64.b64encode(raw).decode())},
                                   ensure_ascii=False)
        bad = self.write("bad.jsonl", "\n".join(lines))
        rc, out, err = run("audit", "verify", "--export", bad, "--pubkey", self.logkey_file,
                           "--witness-key", w1.keyfile, "--witness-key", w2.keyfile, check=False)
        self.assertEqual(rc, 3, out + err)
        self.assertIn("unwitnessed", err)
        self.assertIn("1 of 2", err)
        rc, out, err = run("audit", "verify", "--export", bad, "--pubkey", self.logkey_file,
                           "--witness-key", w1.keyfile, "--witness-key", w2.keyfile,
                           "--witness-quorum", "1", check=False)
        self.assertEqual(rc, 0, out + err)
        # Usage and bad keys.
        self.assertEqual(run(*args, "--witness-key", self.logkey_file, check=False)[0], 7)
        self.assertEqual(run(*args, "--witness-key", w1.keyfile, "--witness-quorum", "2",
                             check=False)[0], 2)
        self.assertEqual(run(*args, "--witness-quorum", "1", check=False)[0], 2)

    def test_unpinned_target(self):
        """Review finding 7: one target whose key the policy no longer pins
        fails on its own (VAULT_EDENIED in its status); the others are
        submitted and their cosignatures stored.  Through the C API
        (vault_audit_witness with an explicit list, as vaultd passes its
        audit.witnesses), by the Python binding."""
        def w1_log(w):
            w.stop()
            return w.proc_log

        sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
        import libvault  # noqa: E402 (the build tree's libvault.so)
        w1, w2 = self.witness("w1"), self.witness("w2")
        # Both pinned without url (nothing submitted by itself), then w2 dropped.
        self.apply(policy_with([(w1.vkey, None), (w2.vkey, None)], 1), "p1.yaml")
        self.apply(policy_with([(w1.vkey, None)]), "p2.yaml")
        with libvault.Vault.open(self.v, key_file=self.k) as v:
            st = v.audit_witness([(w2.vkey, w2.url), (w1.vkey, w1.url)], timeout=5)
        size = st[1]["size"]
        self.assertEqual([s["name"] for s in st], ["witness.test/w2", "witness.test/w1"])
        self.assertFalse(st[0]["ok"])
        self.assertIn("witness witness.test/w2: not pinned by the policy's witnesses", st[0]["message"])
        self.assertTrue(st[1]["ok"], st[1]["message"])
        self.assertFalse(st[1]["already"])
        _, notes = self.notes()
        stored = dict(notes)
        self.assertEqual(self.cosigners(stored[size]), ["witness.test/w1"])
        # w2 was never asked.
        w2.stop()
        self.assertIsNone(re.search(r"old \d+ size \d+", w2.proc_log), w2.proc_log)
        self.assertRegex(w1_log(w1), r"old \d+ size %d: 200" % size)
        # Only unpinned targets: the call fails with VAULT_EDENIED (the first's
        # error), each reported.
        with libvault.Vault.open(self.v, key_file=self.k) as v:
            st = v.audit_witness([(w2.vkey, w2.url)], timeout=5)
        self.assertEqual(len(st), 1)
        self.assertFalse(st[0]["ok"])
        self.assertIn("not pinned", st[0]["message"])

    def test_catch_up_from_409(self):
        """A witness at a size the vault stored no cosignature for."""
        w3 = self.witness("w3")
        self.apply(policy_with([(w3.vkey, None)]))  # pinned, no URL: counted only
        cp = self.write("cp.txt", self.vc("audit", "checkpoint")[1])
        run("witness", "submit", "--url", w3.url, "--witness", w3.vkey, "--checkpoint", cp)
        with open(cp) as f:
            n = int(f.read().split("\n")[1])
        rc, out, _ = self.verify()
        self.assertEqual(rc, 3, out)  # the vault stored nothing of that submission
        self.apply(policy_with([(w3.vkey, w3.url)]), "p2.yaml")
        self.assertEqual(self.verify()[0], 0)
        w3.stop()
        m = re.findall(r"old (\d+) size (\d+): (\d+)", w3.proc_log)
        self.assertIn(("0", str(n), "200"), m)     # the hand submission
        self.assertIn(("0", m[1][1], "409"), m)    # the vault's first try
        self.assertEqual((m[2][0], m[2][2]), (str(n), "200"))  # again from n, with a proof

    def test_store_tamper(self):
        if not shutil.which("sqlcipher"):
            self.skipTest("sqlcipher shell not installed")
        w1 = self.witness("w1")
        self.apply(policy_with([(w1.vkey, w1.url)]))
        self.assertEqual(self.verify()[0], 0)
        key = self.vc("key", "db-key")[1].strip()
        sql = ('PRAGMA key = "%s";\nPRAGMA cipher_page_size = 4096;\n'
               "UPDATE checkpoints SET note = replace(note, 'witness.test/w1 ', "
               "'witness.test/w1 A') WHERE size = (SELECT max(size) FROM checkpoints "
               "WHERE note LIKE '%%witness.test/w1%%');\n" % key)
        p = subprocess.run(["sqlcipher", "-batch", "-bail", self.v], input=sql, text=True,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, out, err = self.verify()
        self.assertEqual(rc, 3, out + err)
        self.assertIn("bad signature", err)  # the row's MAC

    def test_policy_errors(self):
        w1, w2 = Witness(self.tmp, "p1", []), Witness(self.tmp, "p2", [])
        cases = [
            (policy_with([("not-a-key", None)]), "witness key is not a witness verifier key"),
            (policy_with([(self.logkey, None)]), "witness key is not a witness verifier key"),
            (policy_with([(w1.vkey, None), (w1.vkey, None)]), "is listed twice"),
            (policy_with([(w1.vkey, None)], 0), "witness_quorum is 0"),
            (policy_with([(w1.vkey, None), (w2.vkey, None)], 3), "more than the 2 witnesses"),
            (policy_with([(w1.vkey, "ftp://x")]), "must be http:// or https://"),
            (policy_with([(w1.vkey, "https://user:secret@x.example/w")]), "name no user or password"),
            (policy_with([(w1.vkey, None)], "two"), "whole number"),
        ]
        with open(POLICY) as f:
            base = f.read()
        cases.append((base + "\nwitness_quorum: 1\n", "witness_quorum without witnesses"))
        for i, (text, want) in enumerate(cases):
            path = self.write("bad%d.yaml" % i, text)
            rc, out, err = run("policy", "check", path, check=False)
            self.assertEqual(rc, 7, (want, out, err))
            self.assertRegex(out + err, re.escape(path) + r":\d+:\d+: error: .*" + re.escape(want))
        # A policy that pins a witness; the diff names changes of URL and quorum.
        self.apply(policy_with([(w1.vkey, None), (w2.vkey, None)], 1))
        out = self.apply(policy_with([(w1.vkey, "http://127.0.0.1:9")]), "p2.yaml")[1]
        self.assertIn("~ witness witness.test/p1 url none->http://127.0.0.1:9", out)
        self.assertIn("- witness " + w2.vkey, out)
        self.assertNotIn("witness_quorum", out)  # 1 of 2, then 1 of 1 (all listed)

    def wait_for(self, cond, what, d, timeout=20):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if cond():
                return
            time.sleep(0.2)
        self.fail("vaultd: no %s: %s" % (what, d.read_log()))

    def test_vaultd(self):
        if not os.path.exists(VAULTD):
            self.skipTest("no vaultd")
        d = vaultd_harness.Vaultd()
        try:
            w1 = Witness(self.tmp, "d1", [])
            w1.logs = [d.embedded("audit", "pubkey")[1].strip()]
            w1.start()
            self.witnesses.append(w1)
            other = Witness(self.tmp, "d2", [])
            d.embedded("policy", "apply", self.write("pd.yaml", policy_with([(w1.vkey, None)])))
            with open(d.config) as f:
                cfg = f.read()
            # A key the policy does not pin: refused at start, naming file and line.
            with open(d.config, "w") as f:
                f.write(cfg + "audit:\n  witnesses:\n    - key: %s\n      url: %s\n"
                        % (other.vkey, w1.url))
            d.start(wait=False)
            self.assertEqual(d.proc.wait(30), 1)
            log = d.read_log()
            self.assertIn(d.config + ":", log)
            self.assertIn("witness witness.test/d2 is not pinned", log)
            d.proc = None
            # The pinned one: vaultd submits from its thread at start.
            with open(d.config, "w") as f:
                f.write(cfg + "audit:\n  witnesses:\n    - key: %s\n      url: %s\n"
                        "  witness_retry: 1s\n  witness_timeout: 2s\n" % (w1.vkey, w1.url))
            d.start()
            t0 = time.time()
            while time.time() - t0 < 20:
                m = d.get("/v1/metrics").raw
                if re.search(r"^vaultd_witness_cosignatures_total [1-9]", m, re.M):
                    break
                time.sleep(0.2)
            else:
                self.fail("vaultd did not get a cosignature: " + d.read_log())
            tokfile = self.write("officer.jwt", d.token("officer-li", "data_officer",
                                                        "street_office") + "\n")

            def remote_verify():
                return run("--server", "unix://" + d.sock, "--token-file", tokfile,
                           "--purpose", "resident_service", "audit", "verify", check=False)

            self.wait_for(lambda: remote_verify()[0] == 0, "a cosigned newest checkpoint", d)
            # The witness down: a new checkpoint stays unwitnessed, the
            # failure is logged and counted, and retried.
            w1.stop()
            r = d.post("/v1/audit/checkpoint", {"purpose": "resident_service"},
                       token=d.token("officer-li", "data_officer", "street_office"))
            self.assertEqual(r.status, 200, r)
            self.wait_for(lambda: re.search(r"^vaultd_witness_failures_total [1-9]",
                                            d.get("/v1/metrics").raw, re.M), "a failure", d)
            rc, out, err = remote_verify()
            self.assertEqual(rc, 3, out + err)  # client mode knows the class
            self.assertIn("unwitnessed", err)
            self.assertRegex(d.read_log(), r"vaultd: witness witness\.test/d1: checkpoint \d+ "
                             r"not cosigned, retried in 1s: ")
            self.restart(w1)
            self.wait_for(lambda: remote_verify()[0] == 0, "the retry to cosign", d)
            d.stop()
            rc, out, err = d.embedded("audit", "verify", check=False)
            self.assertEqual(rc, 0, out + err + d.read_log())
        finally:
            d.cleanup()


def _stop_keeping_log(self):
    """Witness.stop, keeping what the witness wrote to stderr."""
    if self.proc:
        self.proc.send_signal(15)
        self.proc.wait(10)
        self.proc_log = getattr(self, "proc_log", "") + self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None


Witness.stop = _stop_keeping_log

if __name__ == "__main__":
    unittest.main(verbosity=2)
