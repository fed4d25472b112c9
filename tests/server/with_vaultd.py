"""Run a program (tests/test_client.c) against a real vaultd.

Starts a vaultd with TLS (vaultd_harness.Vaultd), writes identity tokens
to files, and runs the command given on the command line with the
environment below; exits with its exit code and removes everything.

  VAULTD_SOCK         the Unix socket (the app street-desk: this uid)
  VAULTD_TLS          https://127.0.0.1:PORT (apps grid-app, hotline-app by certificate)
  VAULTD_CA           the CA of the server's certificate; VAULTD_ROGUE_CA another one
  VAULTD_GRID_CERT    grid-app's certificate, VAULTD_GRID_KEY its key
  VAULTD_ROGUE_CERT   a certificate with grid-app's CN from an unknown CA, VAULTD_ROGUE_KEY its key
  VAULTD_PID          vaultd's pid (the test kills it last)
  VAULTD_VAULT        the vault file and VAULTD_KEYFILE its key file, for embedded
                      handles on the same vault
  VAULTD_TOKEN_<NAME> token files: OFFICER (officer-li, data_officer), OFFICER2
                      (officer-wang), GRID (grid-zhang, grid_worker), EXPIRED
                      (officer-li, expired an hour ago), FORGED (officer-li, signed
                      by a key vaultd does not know); BAD_WRONG_KEY, BAD_EXPIRED,
                      BAD_NOT_YET_VALID, BAD_FORGED_PAYLOAD, BAD_ALG_NONE,
                      BAD_WRONG_AUDIENCE (vaultd_harness.Vaultd.bad_tokens)
  VAULTD_TMP          a directory for the test's files
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: with_vaultd.py PROGRAM [ARGS...]\n")
        return 2
    d = H.Vaultd(tls=True)
    try:
        d.start()
        env = dict(os.environ)

        def tok(name, text):
            path = os.path.join(d.tmp, name.lower() + ".jwt")
            with open(path, "w") as f:
                f.write(text + "\n")
            env["VAULTD_TOKEN_" + name] = path

        tok("OFFICER", d.token("officer-li", "data_officer", "street_office"))
        tok("OFFICER2", d.token("officer-wang", "data_officer", "street_office"))
        tok("GRID", d.token("grid-zhang", "grid_worker", "community_committee",
                            jurisdiction=H.GRID))
        _, out, _ = H.run(H.VAULTCTL, "token", "issue", "--issuer-key", d.issuer_key,
                          "--iss", H.ISS, "--aud", H.AUD, "--sub", "officer-li", "--role",
                          "data_officer", "--dept", "street_office", "--jurisdiction",
                          H.STREET, "--ttl", "1h", "--at", str(int(time.time()) - 7200))
        tok("EXPIRED", out.strip())
        other = os.path.join(d.tmp, "other-issuer.key")
        H.run(H.VAULTCTL, "token", "keygen", "--out", other)
        tok("FORGED", d.token("officer-li", "data_officer", "street_office", key=other))
        for case, (text, _) in d.bad_tokens().items():
            tok("BAD_" + case.upper().replace(" ", "_"), text)
        env.update({
            "VAULTD_SOCK": d.sock,
            "VAULTD_TLS": "https://127.0.0.1:%d" % d.tls_port,
            "VAULTD_CA": d.cert("ca"),
            "VAULTD_ROGUE_CA": d.cert("rogue-ca"),
            "VAULTD_GRID_CERT": d.cert("grid-app"),
            "VAULTD_GRID_KEY": d.keyfile("grid-app"),
            "VAULTD_ROGUE_CERT": d.cert("rogue-grid"),
            "VAULTD_ROGUE_KEY": d.keyfile("rogue-grid"),
            "VAULTD_PID": str(d.proc.pid),
            "VAULTD_VAULT": d.vault,
            "VAULTD_KEYFILE": d.key,
            "VAULTD_TMP": d.tmp,
        })
        rc = subprocess.call(sys.argv[1:], env=env)
        if rc != 0:
            sys.stderr.write("vaultd log:\n" + d.read_log()[-4000:])
        return rc
    finally:
        d.cleanup()


if __name__ == "__main__":
    sys.exit(main())
