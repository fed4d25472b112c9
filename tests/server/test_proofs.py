"""RFC 6962 proofs through vaultd: /v1/audit/prove, /v1/audit/consistency and
the resident bundle /v1/audit/bundle (docs/api.md, docs/audit-format.md
"Proofs" and section 11), over HTTP, through
`vaultctl --server` and through Vault.connect (client mode forwards the
call; the answer is parsed and checked like any proof file).

What must hold: a proof from the service checks offline with the public
key alone, against the service's note and a note kept outside; a proof
with one hash changed does not; bad arguments are 400 with VAULT_EINVALID
(404 VAULT_ENOTFOUND for a size beyond the log) and each call, refusals
too, is an audit entry naming the token's subject.
"""

import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

import libvault  # noqa: E402  (PYTHONPATH=bindings/python, LIBVAULT_PATH from CTest)


class ProofRoutesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Vaultd()
        cls.d.start()
        d = cls.d
        cls.tok = d.token("officer-li", "data_officer", "street_office")
        # A first signed checkpoint to prove consistency from.
        r = d.post("/v1/audit/checkpoint", {"purpose": "resident_service"}, token=cls.tok)
        assert r.status == 200, r
        cls.first = int(r.json["note"].split("\n")[1])
        r = d.post("/v1/records/add", {"purpose": "resident_service", "jurisdiction": H.GRID,
                                       "fields": {"name": "张三"}}, token=cls.tok)
        assert r.status == 201, r
        cls.rid = r.json["id"]
        for _ in range(3):
            d.post("/v1/records/get", {"purpose": "resident_service", "id": r.json["id"]},
                   token=cls.tok)
        r = d.post("/v1/audit/checkpoint", {"purpose": "resident_service"}, token=cls.tok)
        assert r.status == 200, r
        cls.note = r.json["note"]
        cls.size = int(cls.note.split("\n")[1])
        r = d.get("/v1/audit/pubkey?purpose=resident_service", token=cls.tok)
        cls.pub = r.json["verifier"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def post(self, path, body, token=None):
        return self.d.post(path, dict(body, purpose="resident_service"), token=token or self.tok)

    def test_inclusion_over_http(self):
        r = self.post("/v1/audit/prove", {"seq": 2, "size": self.size})
        self.assertEqual(r.status, 200, r)
        p = r.json
        self.assertEqual((p["seq"], p["size"]), (2, self.size))
        self.assertEqual(p["checkpoint"], self.note)
        libvault.check_proof(p, self.pub)
        libvault.check_proof(dict(p, checkpoint=None), self.pub, self.note)
        h = bytearray(base64.b64decode(p["hashes"][-1]))
        h[3] ^= 0x40
        bad = dict(p, hashes=p["hashes"][:-1] + [base64.b64encode(bytes(h)).decode()])
        with self.assertRaises(libvault.IntegrityError):
            libvault.check_proof(bad, self.pub)
        # without a size: the newest signed checkpoint, whose note it carries
        newest = self.post("/v1/audit/checkpoint", {}).json["note"]
        r = self.post("/v1/audit/prove", {"seq": 2})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["checkpoint"], newest)
        libvault.check_proof(r.json, self.pub)

    def test_consistency_over_http(self):
        r = self.post("/v1/audit/consistency", {"from": self.first, "to": self.size})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["checkpoint"], self.note)
        libvault.check_proof(r.json, self.pub)

    def test_refusals(self):
        for path, body, status, code in (
                ("/v1/audit/prove", {"seq": 0, "size": 3}, 400, "VAULT_EINVALID"),
                ("/v1/audit/prove", {"seq": 4, "size": 3}, 400, "VAULT_EINVALID"),
                ("/v1/audit/prove", {"seq": 1, "size": 10 ** 9}, 404, "VAULT_ENOTFOUND"),
                ("/v1/audit/prove", {"seq": "1"}, 400, "VAULT_EINVALID"),
                ("/v1/audit/prove", {}, 400, "VAULT_EINVALID"),
                ("/v1/audit/prove", {"seq": -1}, 400, "VAULT_EINVALID"),
                ("/v1/audit/consistency", {"from": 3, "to": 2}, 400, "VAULT_EINVALID")):
            r = self.post(path, body)
            self.assertEqual(r.status, status, (path, body, r))
            self.assertEqual(r.error().get("code"), code, (path, body, r))
        out = os.path.join(self.d.tmp, "proofs-audit.jsonl")
        self.d.embedded("audit", "export", "--out", out)
        with open(out, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        refused = [e for e in rows if e.get("action") in ("audit_prove", "audit_consistency")
                   and e.get("outcome") == "error" and e["detail"].startswith("refused: ")]
        # the three library refusals of prove and the one of consistency (the
        # malformed bodies stop at the route, before the library)
        self.assertGreaterEqual(len(refused), 4)
        self.assertTrue(all(e["subject"] == "officer-li" for e in refused), refused)

    def test_bundle_over_http(self):
        r = self.post("/v1/audit/bundle", {"record": self.rid})
        self.assertEqual(r.status, 200, r)
        b = r.json
        self.assertEqual(b["record"], self.rid)
        self.assertEqual(len(b["entries"]), 4)  # the add and three reads
        res = libvault.verify_bundle(b, self.pub)
        self.assertEqual(res.entries, 4)
        with self.assertRaises(libvault.IntegrityError) as cm:
            libvault.verify_bundle(dict(b, entries=b["entries"][1:]), self.pub)
        self.assertEqual(cm.exception.result.failure, libvault.AuditFailure.MISSING)
        for body, status, code in (({"record": "xyz"}, 400, "VAULT_EINVALID"),
                                   ({}, 400, "VAULT_EINVALID"),
                                   ({"record": 5}, 400, "VAULT_EINVALID")):
            r = self.post("/v1/audit/bundle", body)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.error().get("code"), code, (body, r))
        # through Vault.connect and vaultctl --server
        with libvault.Vault.connect("unix://" + self.d.sock, token=self.tok,
                                    purpose="resident_service") as v:
            self.assertTrue(libvault.verify_bundle(v.audit_bundle(self.rid), self.pub).ok)
        tokfile = os.path.join(self.d.tmp, "officer-bundle.jwt")
        with open(tokfile, "w") as f:
            f.write(self.tok + "\n")
        path = os.path.join(self.d.tmp, "resident.json")
        pub = os.path.join(self.d.tmp, "bundle.pub")
        with open(pub, "w") as f:
            f.write(self.pub + "\n")
        H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tokfile,
              "--purpose", "resident_service", "audit", "report", "--record", self.rid,
              "--bundle", path)
        _, out, _ = H.run(H.VAULTCTL, "audit", "verify-bundle", path, "--pubkey", pub)
        self.assertIn("ok: 4 entries of record " + self.rid, out)

    def test_client_mode(self):
        with libvault.Vault.connect("unix://" + self.d.sock, token=self.tok,
                                    purpose="resident_service") as v:
            p = v.audit_prove(3, self.size)
            libvault.check_proof(p, self.pub)
            later = v.audit_checkpoint()
            c = v.audit_consistency(self.size)
            self.assertEqual((c["from_checkpoint"], c["checkpoint"]), (self.note, later))
            libvault.check_proof(c, self.pub)
            with self.assertRaises(libvault.InvalidInput):
                v.audit_prove(0)
            with self.assertRaises(libvault.NotFound):
                v.audit_consistency(1, 10 ** 9)
        tokfile = os.path.join(self.d.tmp, "officer-proofs.jwt")
        with open(tokfile, "w") as f:
            f.write(self.tok + "\n")
        proof = os.path.join(self.d.tmp, "p.json")
        pub = os.path.join(self.d.tmp, "pub")
        with open(pub, "w") as f:
            f.write(self.pub + "\n")
        H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tokfile,
              "--purpose", "resident_service", "audit", "prove", "--seq", "2", "--out", proof)
        _, out, _ = H.run(H.VAULTCTL, "audit", "check-proof", "--proof", proof, "--pubkey", pub)
        self.assertIn("ok: entry 2 is in the signed tree", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
