#!/usr/bin/env python3
"""Client certificates driven through the CLI and Python (issue 15: "an
unknown client CA refused"; the C client: tests/test_client.c): over TLS
with the grid app's certificate, vaultctl --server and Vault.connect read
as the grid worker; with a certificate of the right CN from an unknown CA,
or one made for a TLS server, both are refused (exit 6 / AuthError), and
with no certificate at all."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

import libvault  # noqa: E402  (PYTHONPATH=bindings/python, LIBVAULT_PATH from CTest)


class TlsClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = d = H.Vaultd(tls=True)
        d.start()
        off = d.token("officer-li", "data_officer", "street_office")
        r = d.post("/v1/records/add", {"purpose": "resident_service", "jurisdiction": H.GRID,
                                       "fields": {"name": "张三", "phone": "13812345678"}},
                   token=off)
        assert r.status == 201, r
        cls.rid = r.json["id"]
        cls.tok = os.path.join(d.tmp, "grid.jwt")
        with open(cls.tok, "w") as f:
            f.write(d.token("grid-zhang", "grid_worker", "community_committee",
                            jurisdiction=H.GRID) + "\n")
        cls.url = "https://127.0.0.1:%d" % d.tls_port

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def cli(self, app, *args):
        d = self.d
        tls = ["--server", self.url, "--ca-file", d.cert("ca"), "--token-file", self.tok,
               "--purpose", "grid_management"]
        if app:
            tls += ["--cert", d.cert(app), "--key", d.keyfile(app)]
        return H.run(H.VAULTCTL, *tls, *args, check=False)

    def connect(self, app):
        d = self.d
        kw = {"cert": d.cert(app), "key": d.keyfile(app)} if app else {}
        return libvault.Vault.connect(self.url, token_file=self.tok, ca_file=d.cert("ca"),
                                      purpose="grid_management", **kw)

    def test_grid_app_reads(self):
        rc, out, err = self.cli("grid-app", "--json", "record", "get", self.rid, "--fields",
                                "phone")
        self.assertEqual(rc, 0, err)
        f = json.loads(out)["fields"][0]
        self.assertEqual((f["field"], f["effect"]), ("phone", "mask"))
        with self.connect("grid-app") as v:
            with v.session(purpose="grid_management") as s:
                self.assertEqual(s.get(self.rid, ["phone"])["phone"].value, "138****5678")

    def test_unknown_ca_and_wrong_certificates_refused(self):
        for app in ("rogue-grid", "server-grid", None):
            rc, out, err = self.cli(app, "record", "get", self.rid, "--fields", "phone")
            self.assertEqual(rc, 6, (app, rc, out, err))
            self.assertEqual(out, "", app)
            self.assertEqual(len(err.strip().splitlines()), 1, (app, err))
            self.assertNotIn("5678", err)
            with self.assertRaises(libvault.AuthError, msg=str(app)):
                with self.connect(app) as v:
                    with v.session(purpose="grid_management") as s:
                        s.get(self.rid, ["phone"])


if __name__ == "__main__":
    unittest.main()
