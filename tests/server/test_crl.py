#!/usr/bin/env python3
"""vaultd's revoked app certificates (listen.tls.crl, docs/service.md "TLS
certificates"): a certificate the CRL lists names no app (401, logged),
whatever its CN; SIGHUP reloads the list (a newly revoked certificate is
refused from then on; a bad new list keeps the one in force); a CRL that
client_ca did not sign stops vaultd at start."""

import os
import signal
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402


class CrlTest(unittest.TestCase):
    def setUp(self):
        self.d = H.Vaultd(tls=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
        self.tok = self.d.token("grid-zhang", "grid_worker", "community_committee",
                                jurisdiction=H.GRID)

    def tearDown(self):
        self.d.cleanup()

    def crl(self, name, revoked, ca="ca"):
        """A CRL signed by `ca` listing the certificates `revoked`."""
        tpl = os.path.join(self.d.tmp, name + ".tpl")
        with open(tpl, "w") as f:
            f.write("crl_next_update = 2\ncrl_number = %d\n" % (int(time.time()) % 100000))
        certs = os.path.join(self.d.tmp, name + ".certs")
        with open(certs, "w") as f:
            for c in revoked:
                with open(self.d.cert(c)) as g:
                    f.write(g.read())
        out = os.path.join(self.d.tmp, name + ".pem")
        args = ["certtool", "--generate-crl", "--load-ca-privkey", self.d.keyfile(ca),
                "--load-ca-certificate", self.d.cert(ca), "--template", tpl, "--outfile", out]
        if revoked:
            args[2:2] = ["--load-certificate", certs]
        H.run(*args, env=self.env, input="")
        return out

    def use_crl(self, path):
        with open(self.d.config) as f:
            lines = f.read().split("\n")
        lines = [ln for ln in lines if not ln.strip().startswith("crl:")]
        i = next(i for i, ln in enumerate(lines) if ln.strip().startswith("client_ca:"))
        lines.insert(i + 1, "    crl: %s" % path)
        with open(self.d.config, "w") as f:
            f.write("\n".join(lines))

    def status(self, app):
        c = self.d.tls(app)
        try:
            r = H.http_request(c, "POST", "/v1/records/find",
                               {"purpose": "grid_management", "field": "name", "value": "x"},
                               token=self.tok)
            return r.status, r.error().get("message", "") if r.status >= 400 else ""
        except (ssl.SSLError, ConnectionError) as e:
            return 0, repr(e)
        finally:
            c.close()

    def test_revoked_refused_and_reloaded(self):
        self.use_crl(self.crl("first", ["hotline-app"]))
        self.d.start()
        # grid-app is not revoked: its certificate names its app (any non-401 answer)
        st, msg = self.status("grid-app")
        self.assertNotEqual(st, 401, msg)
        # hotline-app's certificate is on the list: no app, whatever it maps to
        st, msg = self.status("hotline-app")
        self.assertEqual(st, 401)
        self.assertIn("revoked", msg)
        out = os.path.join(self.d.tmp, "audit.jsonl")
        self.d.embedded("audit", "export", "--out", out)
        with open(out) as f:
            self.assertIn("revoked", f.read(), "the refusal is in the log")
        # a new list that also revokes grid-app, taken on SIGHUP
        with open(self.d.config) as f:
            crl_path = [ln.split(":", 1)[1].strip() for ln in f.read().split("\n")
                        if ln.strip().startswith("crl:")][0]
        new = self.crl("second", ["hotline-app", "grid-app"])
        os.replace(new, crl_path)
        self.d.proc.send_signal(signal.SIGHUP)
        for _ in range(50):
            if "reloaded" in self.d.read_log():
                break
            time.sleep(0.1)
        self.assertIn("revocation list", self.d.read_log())
        st, msg = self.status("grid-app")
        self.assertEqual(st, 401)
        self.assertIn("revoked", msg)
        # a list from another CA on SIGHUP: refused, the one in force kept
        os.replace(self.crl("rogue", ["grid-app"], ca="rogue-ca"), crl_path)
        self.d.proc.send_signal(signal.SIGHUP)
        for _ in range(50):
            if "is kept" in self.d.read_log():
                break
            time.sleep(0.1)
        self.assertIn("not signed by client_ca", self.d.read_log())
        st, msg = self.status("grid-app")
        self.assertEqual(st, 401)
        self.assertIn("revoked", msg)

    def test_crl_of_another_ca_stops_vaultd(self):
        self.use_crl(self.crl("rogue", ["grid-app"], ca="rogue-ca"))
        self.d.start(wait=False)
        self.assertNotEqual(self.d.proc.wait(30), 0)
        self.assertIn("not signed by client_ca", self.d.read_log())

    def test_not_a_crl(self):
        junk = os.path.join(self.d.tmp, "junk.pem")
        with open(junk, "w") as f:
            f.write("not a CRL\n")
        self.use_crl(junk)
        self.d.start(wait=False)
        self.assertNotEqual(self.d.proc.wait(30), 0)
        self.assertIn("listen.tls.crl", self.d.read_log())


if __name__ == "__main__":
    unittest.main()
