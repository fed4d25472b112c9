#!/usr/bin/env python3
"""vaultd's pinned audit key (config audit.pubkey, docs/service.md), and its
configuration file, which no one but its owner may write: the
right key starts and serves; another vault's key is refused at start with
exit 3 before anything is served (as is a store whose key isn't the one
pinned: tests/test_audit.c test_pinned_key makes that store); and a
client that pins its own copy (vaultctl --server ... audit verify --pubkey)
gets a bad signature from a service with another key."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402


class PinTest(unittest.TestCase):
    def setUp(self):
        self.d = H.Vaultd()
        _, out, _ = self.d.embedded("audit", "pubkey")
        self.pub = out.strip()
        other = os.path.join(self.d.tmp, "other.vault")
        H.run(H.VAULTCTL, "init", "--vault", other, "--policy", H.POLICY, "--key-file",
              os.path.join(self.d.tmp, "other.key"))
        _, out, _ = H.run(H.VAULTCTL, "--vault", other, "--key-file",
                          os.path.join(self.d.tmp, "other.key"), "audit", "pubkey")
        self.other_pub = out.strip()

    def tearDown(self):
        self.d.cleanup()

    def config_with(self, key):
        with open(self.d.config) as f:
            text = f.read()
        with open(self.d.config, "w") as f:
            f.write(text + "audit:\n  pubkey: \"%s\"\n" % key)

    def test_right_key_serves(self):
        self.config_with(self.pub)
        self.d.start()
        self.assertEqual(self.d.get("/v1/health").status, 200)
        tok = os.path.join(self.d.tmp, "officer.tok")
        with open(tok, "w") as f:
            f.write(self.d.token("li", "data_officer", "street_office"))
        pubf = os.path.join(self.d.tmp, "audit.pub")
        with open(pubf, "w") as f:
            f.write(self.pub + "\n")
        code, out, err = H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tok,
                               "--purpose", "resident_service", "audit", "verify", "--pubkey", pubf,
                               check=False)
        self.assertEqual(code, 0, err)
        # The client's own copy of another vault's key: bad signature, exit 3.
        with open(pubf, "w") as f:
            f.write(self.other_pub + "\n")
        code, out, err = H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tok,
                               "--purpose", "resident_service", "audit", "verify", "--pubkey", pubf,
                               check=False)
        self.assertEqual(code, 3, out + err)
        self.assertIn("bad signature", out + err)

    def test_other_key_refused_at_start(self):
        self.config_with(self.other_pub)
        self.d.start(wait=False)
        self.assertEqual(self.d.proc.wait(30), 3)
        self.assertIn("audit.pubkey", self.d.read_log())
        self.assertIn("not this vault", self.d.read_log())

    def test_config_others_may_write(self):
        # the config pins the issuers, the apps and the audit key
        os.chmod(self.d.config, 0o666)
        self.d.start(wait=False)
        self.assertEqual(self.d.proc.wait(30), 1)
        self.assertIn("others may write it", self.d.read_log())
        os.chmod(self.d.config, 0o640)
        self.d.start()
        self.assertEqual(self.d.get("/v1/health").status, 200)

    def test_junk_key_refused_at_start(self):
        self.config_with("not a key")
        self.d.start(wait=False)
        self.assertNotEqual(self.d.proc.wait(30), 0)
        self.assertIn("audit.pubkey", self.d.read_log())


if __name__ == "__main__":
    unittest.main()
