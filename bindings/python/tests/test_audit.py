"""Audit log: verification, checkpoints, export, offline verification, tampering, reports."""

import base64
import json
import os
import pwd
import time
import unittest

import libvault
from libvault import AuditFailure

from . import VaultCase


def tamper(src, dst, line_no):
    """Copy an export, changing one character inside line `line_no`'s entry.

    (What someone editing a kept copy of the log would do: the line stays
    well-formed JSON with valid base64.)
    """
    with open(src, encoding="utf-8") as f:
        lines = f.read().splitlines(True)
    line = lines[line_no - 1]
    pos = line.index('"entry":"') + 30
    lines[line_no - 1] = line[:pos] + ("B" if line[pos] == "A" else "A") + line[pos + 1:]
    with open(dst, "w", encoding="utf-8") as f:
        f.writelines(lines)


class AuditTest(VaultCase):
    def setUp(self):
        super().setUp()
        self.o = self.officer()
        self.g = self.grid()
        self.rid = self.add_resident(self.o)

    def test_verify(self):
        self.g.get(self.rid, ["phone"])
        with self.assertRaises(libvault.AccessDenied):
            self.g.put(self.rid, "phone", "13000000000")
        calls = []
        res = self.v.audit_verify(progress=lambda d, t: calls.append((d, t)))
        self.assertTrue(res.ok)
        self.assertEqual(res.failure, AuditFailure.OK)
        self.assertEqual(res.failure_name, "")
        self.assertEqual(res.entries, 4)  # vault_create, create, read, denied write
        self.assertTrue(calls)

    def test_since_and_compact(self):
        note = self.v.audit_checkpoint()
        for _ in range(3):
            self.g.get(self.rid, ["phone"])
        res = self.v.audit_verify(since=note)
        self.assertTrue(res.ok)
        self.assertGreaterEqual(res.entries, 3)
        self.assertLess(res.entries, self.v.audit_verify().entries)
        with self.assertRaises(TypeError):
            self.v.audit_verify(since=3)
        exp = os.path.join(self.dir, "compact.jsonl")
        self.v.audit_export(exp, compact=True)
        with open(exp, encoding="utf-8") as f:
            lines = [json.loads(ln) for ln in f]
        entries = [ln for ln in lines if "entry" in ln]
        self.assertTrue(entries)
        self.assertTrue(all(sorted(ln) == ["entry", "head", "seq"] for ln in entries))
        pub = self.v.audit_pubkey()
        self.assertTrue(libvault.verify_export(exp, pub).ok)
        bad = os.path.join(self.dir, "compact-tampered.jsonl")
        tamper(exp, bad, len(lines) - len(entries) + 2)
        with self.assertRaises(libvault.IntegrityError):
            libvault.verify_export(bad, pub)

    def test_max_age(self):
        note = self.v.audit_checkpoint()
        self.assertIn("\ntimestamp ", note)
        res = self.v.audit_verify(note, max_age=3600)
        self.assertGreater(res.newest_time, 0)
        self.assertEqual(res.newest_size, int(note.split("\n")[1]))
        with self.assertRaises(ValueError):
            self.v.audit_verify(max_age=0)
        # the vectors' export: its checkpoint carries no signed time
        vec = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors")
        with open(os.path.join(vec, "vectors.pub"), encoding="utf-8") as f:
            pub = f.read()
        exp = os.path.join(vec, "audit_export_v2.jsonl")
        self.assertTrue(libvault.verify_export(exp, pub).ok)
        res = libvault.verify_export(exp, pub, max_age=3600, check=False)
        self.assertEqual(res.failure, AuditFailure.MISSING)
        self.assertIn("no signed time", res.message)

    def test_pin(self):
        pub = self.v.audit_pubkey()
        self.v.audit_pin(pub)
        self.assertTrue(self.v.audit_verify().ok)
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_pin("not a key")
        # Another vault's key is refused by name.
        libvault.generate_key_file(os.path.join(self.dir, "other.key"))
        other = libvault.Vault.create(os.path.join(self.dir, "other.vault"), self.policy,
                                      key_file=os.path.join(self.dir, "other.key"))
        try:
            with self.assertRaises(libvault.IntegrityError):
                self.v.audit_pin(other.audit_pubkey())
        finally:
            other.close()

    def test_export_and_offline_verification(self):
        self.g.get(self.rid, ["phone", "name"])
        note = self.v.audit_checkpoint()
        self.assertIn("libvault/", note)
        self.assertTrue(self.v.audit_verify(note).ok)
        pub = self.v.audit_pubkey()
        self.assertTrue(pub.startswith("libvault/"))
        exp = os.path.join(self.dir, "audit.jsonl")
        calls = []
        self.v.audit_export(exp, progress=lambda d, t: calls.append((d, t)))
        self.assertTrue(calls)
        with self.assertRaises(libvault.AlreadyExists):
            self.v.audit_export(exp)  # never overwrites
        with open(exp, encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn("13812345678", text)
        self.v.close()  # offline: no vault needed
        res = libvault.verify_export(exp, pub, note)
        self.assertTrue(res.ok)
        self.assertGreaterEqual(res.checkpoints, 1)
        self.assertTrue(libvault.Vault.audit_verify_export(exp, pub).ok)
        # one character changed in an entry
        bad = os.path.join(self.dir, "tampered.jsonl")
        n_checkpoints = sum(1 for ln in text.splitlines() if '"entry"' not in ln)
        tamper(exp, bad, n_checkpoints + 3)
        with self.assertRaises(libvault.IntegrityError) as cm:
            libvault.verify_export(bad, pub, note)
        r = cm.exception.result
        self.assertIsNotNone(r)
        self.assertFalse(r.ok)
        self.assertEqual(r.failure, AuditFailure.MODIFIED)
        self.assertEqual(r.failure_name, "modified")
        self.assertEqual(r.bad_seq, 3)
        r2 = libvault.verify_export(bad, pub, note, check=False)
        self.assertEqual(r2.failure, AuditFailure.MODIFIED)
        with self.assertRaises(libvault.InvalidInput):
            libvault.verify_export(exp, "junk")

    def test_export_witnessed(self):
        """witness_keys: the newest checkpoint must carry their cosignatures
        (counted in the C library; tests/witness/test_witnessed.py has real
        witnesses)."""
        self.v.audit_checkpoint()
        pub = self.v.audit_pubkey()
        exp = os.path.join(self.dir, "audit.jsonl")
        self.v.audit_export(exp)
        self.v.close()
        wkey = "witness.test/w1+ec0dd0cb+BBPZkIpwklmS7VRgB9J/UNpounIX72KsPMp4RSn/EEcc"
        self.assertTrue(libvault.verify_export(exp, pub, witness_keys=[]).ok)
        r = libvault.verify_export(exp, pub, witness_keys=[wkey], check=False)
        self.assertEqual(r.failure, AuditFailure.UNWITNESSED)
        self.assertEqual(r.failure_name, "unwitnessed")
        self.assertIn("0 of 1 required cosignatures", r.message)
        with self.assertRaises(libvault.IntegrityError):
            libvault.verify_export(exp, pub, witness_keys=[wkey])
        with self.assertRaises(libvault.InvalidInput):
            libvault.verify_export(exp, pub, witness_keys=[pub])  # a log's key, not a witness's
        with self.assertRaises(ValueError):
            libvault.verify_export(exp, pub, witness_keys=[wkey], witness_quorum=2)

    def test_witness_refusals(self):
        wkey = "witness.test/w1+ec0dd0cb+BBPZkIpwklmS7VRgB9J/UNpounIX72KsPMp4RSn/EEcc"
        with self.assertRaises(libvault.NotFound):
            self.v.audit_witness()  # the policy pins no witness with a url
        # Not pinned: that witness's own failure, reported and not submitted to.
        self.v.audit_checkpoint()
        st = self.v.audit_witness([(wkey, "http://127.0.0.1:9")])
        self.assertEqual(len(st), 1)
        self.assertEqual(st[0]["name"], "witness.test/w1")
        self.assertFalse(st[0]["ok"])
        self.assertIn("not pinned by the policy's witnesses", st[0]["message"])

    def test_forged_checkpoint(self):
        note = self.v.audit_checkpoint()
        i = len(note) - 20  # inside the signature, still canonical base64
        forged = note[:i] + ("B" if note[i] == "A" else "A") + note[i + 1:]
        with self.assertRaises(libvault.IntegrityError) as cm:
            self.v.audit_verify(forged)
        self.assertEqual(cm.exception.result.failure, AuditFailure.BAD_SIGNATURE)
        self.assertEqual(cm.exception.result.bad_seq, int(note.split("\n")[1]))
        self.assertFalse(self.v.audit_verify(forged, check=False).ok)

    def test_several_checkpoints(self):
        first = self.v.audit_checkpoint()
        self.g.get(self.rid, ["phone"])
        second = self.v.audit_checkpoint()
        self.assertTrue(self.v.audit_verify([first, second]).ok)
        self.assertTrue(self.v.audit_verify((second, first)).ok)
        self.assertTrue(self.v.audit_verify([]).ok)
        i = len(first) - 20
        forged = first[:i] + ("B" if first[i] == "A" else "A") + first[i + 1:]
        # every note counts, not only the last one
        r = self.v.audit_verify([forged, second], check=False)
        self.assertEqual(r.failure, AuditFailure.BAD_SIGNATURE)
        self.assertEqual(r.bad_seq, int(first.split("\n")[1]))
        pub = self.v.audit_pubkey()
        exp = os.path.join(self.dir, "audit.jsonl")
        self.v.audit_export(exp)
        self.assertTrue(libvault.verify_export(exp, pub, [first, second]).ok)
        r = libvault.verify_export(exp, pub, [second, forged], check=False)
        self.assertEqual(r.failure, AuditFailure.BAD_SIGNATURE)
        with self.assertRaises(TypeError):
            self.v.audit_verify([first, 7])

    def test_metadata_queries_logged(self):
        self.v.set_actor("qian.compliance")
        self.v.audit_pubkey()
        self.v.audit_checkpoint()
        self.v.audit_verify()
        exp = os.path.join(self.dir, "audit.jsonl")
        self.v.audit_export(exp)
        text = self.v.report_user("qian.compliance")
        for action in ("audit_pubkey", "audit_checkpoint", "audit_verify", "audit_export"):
            self.assertIn(action, text)

    def test_reports(self):
        self.g.get(self.rid, ["phone"])
        with self.assertRaises(libvault.AccessDenied):
            self.g.put(self.rid, "phone", "13000000000")
        self.v.set_actor("qian.compliance")
        text = self.v.report_record(self.rid)
        self.assertIn("wang (grid_worker/community_committee", text)
        self.assertIn("li (data_officer/street_office", text)
        self.assertIn("phone:mask", text)
        self.assertNotIn("13812345678", text)
        rows = self.v.report_user("wang", as_json=True)
        self.assertTrue(rows)
        self.assertTrue(all(r["user"] == "wang" for r in rows))
        self.assertEqual(rows[0]["purpose"], "grid_management")
        denied = self.v.report_denied()
        self.assertIn("wang", denied)
        self.assertIn("write", denied)
        self.assertEqual(self.v.report_break_glass(), "")
        # reports are logged, under the named actor
        self.assertIn("qian.compliance", self.v.report_user("qian.compliance"))
        with self.assertRaises(libvault.InvalidInput):
            self.v.report_record("nope")
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_report(99)

    def test_principal_in_reports_and_export(self):
        hotline = libvault.Principal(peer="tls:192.0.2.7:51234", app="grid-app",
                                     issuer="https://id.example.gov", subject="u-17",
                                     token_id="jti-9")
        with self.v.session(user="wang", role="grid_worker", department="community_committee",
                            jurisdiction="hangzhou/gongshu/xiaohe/changzheng/grid-07",
                            purpose="grid_management", principal=hotline) as s:
            s.get(self.rid, ["phone"])
        self.g.get(self.rid, ["phone"])  # embedded
        rows = [r for r in self.v.report_user("wang", as_json=True) if r["action"] == "read"]
        served = [r for r in rows if r["app"] == "grid-app"]
        self.assertEqual(len(served), 1)
        self.assertEqual((served[0]["issuer"], served[0]["subject"], served[0]["token_id"],
                          served[0]["peer"]),
                         ("https://id.example.gov", "u-17", "jti-9", "tls:192.0.2.7:51234"))
        local = [r for r in rows if r["app"] == ""]
        self.assertTrue(local)
        self.assertTrue(all(r["issuer"] == "" and r["peer"].startswith("local:uid=")
                            for r in local))
        text = self.v.report_user("wang")
        self.assertIn("[app=grid-app iss=https://id.example.gov sub=u-17]", text)
        self.assertIn("[embedded]", text)
        exp = os.path.join(self.dir, "audit.jsonl")
        self.v.audit_export(exp)
        with open(exp, encoding="utf-8") as f:
            self.assertIn('"app":"grid-app","peer":"tls:192.0.2.7:51234"', f.read())
        # a malformed principal is refused, and the refusal is logged
        with self.assertRaises(libvault.InvalidInput):
            self.v.session(user="wang", role="grid_worker", department="community_committee",
                           jurisdiction="hangzhou/gongshu/xiaohe/changzheng/grid-07",
                           purpose="grid_management",
                           principal=libvault.Principal(peer="unix:uid=998", app="a\x1bb"))
        with self.assertRaises(libvault.InvalidInput):
            self.v.set_actor("qian", libvault.Principal(peer=""))
        self.v.set_actor("qian", libvault.Principal(peer="unix:uid=998", app="officer-desk"))
        self.v.audit_pubkey()
        rows = self.v.report_denied(as_json=True)
        refused = [r for r in rows if r["action"] in ("session_open", "set_actor")]
        self.assertEqual(len(refused), 2)
        self.assertEqual(refused[0]["app"], "?")
        last = self.v.report_user("qian", as_json=True)[-1]
        self.assertEqual((last["app"], last["peer"]), ("officer-desk", "unix:uid=998"))

class ProofTest(VaultCase):
    """RFC 6962 proofs (docs/audit-format.md, "Proofs")."""

    def setUp(self):
        super().setUp()
        self.g = self.grid()
        self.rid = self.add_resident(self.officer())
        for _ in range(3):
            self.g.get(self.rid, ["phone"])
        self.note = self.v.audit_checkpoint()
        self.size = int(self.note.split("\n")[1])
        self.pub = self.v.audit_pubkey()

    def test_inclusion(self):
        p = self.v.audit_prove(2)
        self.assertEqual(sorted(p), ["checkpoint", "hashes", "leaf", "root", "seq", "size"])
        self.assertEqual((p["seq"], p["size"]), (2, self.size))
        self.assertEqual(p["checkpoint"], self.note)
        libvault.check_proof(p, self.pub)
        libvault.check_proof(p, self.pub, self.note)
        libvault.check_proof(json.dumps(p), self.pub)
        for seq in range(1, self.size + 1):
            libvault.check_proof(self.v.audit_prove(seq, self.size), self.pub)
        # one hash changed
        bad = dict(p, hashes=list(p["hashes"]))
        h = bytearray(base64.b64decode(bad["hashes"][0]))
        h[0] ^= 1
        bad["hashes"][0] = base64.b64encode(bytes(h)).decode()
        with self.assertRaises(libvault.IntegrityError):
            libvault.check_proof(bad, self.pub)
        # claimed for another entry
        with self.assertRaises(libvault.IntegrityError):
            libvault.check_proof(dict(p, seq=3), self.pub)
        # no note: only a note kept outside vouches for the root
        with self.assertRaises(libvault.NotFound):
            libvault.check_proof(dict(p, checkpoint=None), self.pub)
        libvault.check_proof(dict(p, checkpoint=None), self.pub, [self.note])
        with self.assertRaises(libvault.InvalidInput):
            libvault.check_proof(dict(p, extra=1), self.pub)

    def test_consistency(self):
        self.g.get(self.rid, ["phone"])
        later = self.v.audit_checkpoint()
        c = self.v.audit_consistency(self.size)
        self.assertEqual(c["from"], self.size)
        self.assertEqual(c["from_checkpoint"], self.note)
        self.assertEqual(c["checkpoint"], later)
        libvault.check_proof(c, self.pub)
        libvault.check_proof(dict(c, from_checkpoint=None), self.pub, [self.note])
        with self.assertRaises(libvault.NotFound):
            libvault.check_proof(dict(c, from_checkpoint=None), self.pub)
        self.assertEqual(self.v.audit_consistency(0, 3)["hashes"], [])

    def test_refusals_logged(self):
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_prove(0, 3)
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_prove(5, 3)
        with self.assertRaises(libvault.NotFound):
            self.v.audit_prove(1, 10 ** 6)
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_consistency(4, 3)
        with self.assertRaises(ValueError):
            self.v.audit_prove(-1)
        # a vault file keeps the city log only: a shard log's entry is refused
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_prove(1, log="hangzhou/xihu")
        self.assertNotIn("log", self.v.audit_prove(1, 3, log=""))
        rows = self.v.report_user(self.v_actor(), as_json=True)
        refused = [r for r in rows if r["action"] in ("audit_prove", "audit_consistency")
                   and r["outcome"] == "error" and r["detail"].startswith("refused: ")]
        self.assertEqual(len(refused), 5)

    def v_actor(self):
        return "os:" + pwd.getpwuid(os.getuid()).pw_name
    def test_principal_not_after(self):
        # a credential already past its last good second: refused, logged
        gone = libvault.Principal(peer="tls:192.0.2.7:51234", app="grid-app",
                                  issuer="https://id.example.gov", subject="u-17",
                                  not_after=int(time.time()) - 60)
        with self.assertRaises(libvault.AuthError):
            self.v.session(user="wang", role="grid_worker", department="community_committee",
                           jurisdiction="hangzhou/gongshu/xiaohe/changzheng/grid-07",
                           purpose="grid_management", principal=gone)
        rows = [r for r in self.v.report_denied(as_json=True) if r["action"] == "session_open"]
        self.assertEqual(rows[-1]["subject"], "u-17")
        # one good for an hour more reads
        good = libvault.Principal(peer=gone.peer, app=gone.app, issuer=gone.issuer,
                                  subject=gone.subject, not_after=int(time.time()) + 3600)
        with self.v.session(user="wang", role="grid_worker", department="community_committee",
                            jurisdiction="hangzhou/gongshu/xiaohe/changzheng/grid-07",
                            purpose="grid_management", principal=good) as s:
            s.get(self.rid, ["phone"])


if __name__ == "__main__":
    unittest.main()


class BundleTest(VaultCase):
    """Resident proof bundles (docs/audit-format.md section 11)."""

    def setUp(self):
        super().setUp()
        self.g = self.grid()
        self.rid = self.add_resident(self.officer())
        for _ in range(3):
            self.g.get(self.rid, ["phone"])
        self.note = self.v.audit_checkpoint()
        self.pub = self.v.audit_pubkey()

    def test_bundle_verifies_offline(self):
        b = self.v.audit_bundle(self.rid)
        self.assertEqual(sorted(b), ["bundle", "checkpoint", "entries", "origin", "record",
                                     "signature", "statement"])
        self.assertEqual(b["record"], self.rid)
        self.assertEqual(b["checkpoint"], self.note)
        self.assertEqual(len(b["entries"]), 4)  # the add and three reads
        r = libvault.verify_bundle(b, self.pub)
        self.assertTrue(r.ok)
        self.assertEqual(r.entries, 4)
        self.assertEqual(r.newest_size, int(self.note.split("\n")[1]))
        libvault.verify_bundle(json.dumps(b), self.pub)
        rows = self.v.report_record(self.rid, as_json=True)
        # the report logs itself first: the bundle is the entry before it
        self.assertEqual([r["action"] for r in rows[-2:]], ["audit_bundle", "audit_report"])

    def test_tampered_bundles(self):
        b = self.v.audit_bundle(self.rid)
        removed = dict(b, entries=b["entries"][:1] + b["entries"][2:])
        with self.assertRaises(libvault.IntegrityError) as cm:
            libvault.verify_bundle(removed, self.pub)
        self.assertEqual(cm.exception.result.failure, AuditFailure.MISSING)
        self.assertEqual(cm.exception.result.bad_seq, b["entries"][1]["seq"])
        e = dict(b["entries"][0])
        h = bytearray(base64.b64decode(e["hashes"][0]))
        h[0] ^= 1
        e["hashes"] = [base64.b64encode(bytes(h)).decode()] + e["hashes"][1:]
        r = libvault.verify_bundle(dict(b, entries=[e] + b["entries"][1:]), self.pub, check=False)
        self.assertEqual((r.failure, r.failure_name), (AuditFailure.MODIFIED, "modified"))
        r = libvault.verify_bundle(dict(b, entries=b["entries"][:1] + b["entries"]), self.pub,
                                   check=False)
        self.assertEqual(r.failure, AuditFailure.REORDERED)
        r = libvault.verify_bundle("{", self.pub, check=False)
        self.assertEqual(r.failure, AuditFailure.MALFORMED)

    def test_another_vault_and_witnesses(self):
        b = self.v.audit_bundle(self.rid)
        key2 = os.path.join(self.dir, "other.key")
        libvault.generate_key_file(key2)
        other = libvault.Vault.create(os.path.join(self.dir, "other.vault"), self.policy,
                                      key_file=key2)
        try:
            r = libvault.verify_bundle(b, other.audit_pubkey(), check=False)
            self.assertEqual(r.failure, AuditFailure.BAD_SIGNATURE)
        finally:
            other.close()
        # a log key is not a witness key; a quorum needs keys
        with self.assertRaises(libvault.InvalidInput):
            libvault.verify_bundle(b, self.pub, [self.pub])
        with self.assertRaises(libvault.InvalidInput):
            libvault.verify_bundle(b, self.pub, [], quorum=1)

    def test_a_record_without_entries_is_still_a_bundle(self):
        b = self.v.audit_bundle("0" * 32)
        self.assertEqual(b["entries"], [])
        self.assertTrue(libvault.verify_bundle(b, self.pub).ok)
