"""The 12345 hotline example runs and prints the access trail."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from . import BINDINGS_DIR, SOURCE_DIR

EXAMPLE = os.path.join(BINDINGS_DIR, "examples", "hotline.py")
README = os.path.join(BINDINGS_DIR, "README.md")


def python_block(path):
    """The first ```python block of the README at path."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.index("```python\n") + len("```python\n")
    return text[start:text.index("```", start)]


def run_code(code, cwd=SOURCE_DIR):
    """Run code in a fresh interpreter that imports the package from the checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = BINDINGS_DIR
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=cwd)


class HotlineExampleTest(unittest.TestCase):
    def test_runs_and_prints_the_trail(self):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the script finds the package itself
        env["VAULT_SOURCE_DIR"] = SOURCE_DIR
        r = subprocess.run([sys.executable, EXAMPLE], env=env, capture_output=True, text=True,
                           timeout=300, cwd=SOURCE_DIR)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn("Access trail", out)
        trail = out[out.index("Access trail"):]
        # every actor is on the trail, with their decisions, and no value is
        for who in ("zhou.agent (hotline_agent/hotline_12345", "he.supervisor",
                    "li.officer (data_officer/street_office", "wu.community", "zhao.civil"):
            self.assertIn(who, trail)
        self.assertIn("name:mask,phone:mask,complainant_identity:deny", trail)
        self.assertIn("denied  complainant_identity:deny", trail)
        self.assertNotIn("13857124680", trail)
        # the complainant's identity is never printed anywhere
        self.assertNotIn("实名投诉人", out)
        self.assertIn("138****4680", out)


class ReadmeExampleTest(unittest.TestCase):
    def test_readme_example_runs(self):
        r = run_code(python_block(README))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("phone MASK 138****5678", r.stdout)
        self.assertIn("health DENY None", r.stdout)
        self.assertIn("export intact:", r.stdout)

    def test_readme_example_beside_the_standard_sqlite3_module(self):
        # Python's own sqlite3 module (the system's SQLite) used before and
        # after the example in one process: libvault carries SQLCipher with
        # its names hidden, so neither library answers for the other.
        example = python_block(README)
        probe = ("import sqlite3\n"
                 "def plain():\n"
                 "    db = sqlite3.connect(':memory:')\n"
                 "    got = db.execute(\"SELECT json('[1, 2]'), sqlite_version()\").fetchone()\n"
                 "    db.close()\n"
                 "    assert got == ('[1,2]', sqlite3.sqlite_version), got\n"
                 "plain()\n")
        r = run_code(probe + example + "\nplain()\nprint('plain sqlite3 ok')\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("phone MASK 138****5678", r.stdout)
        self.assertIn("plain sqlite3 ok", r.stdout)


class TopReadmeExampleTest(unittest.TestCase):
    def test_top_readme_example_prints_what_it_says(self):
        # The repository README's Python example, in an empty directory with
        # the policy beside it: each printed line is the comment under it.
        code = python_block(os.path.join(SOURCE_DIR, "README.md"))
        promised = [ln.strip()[2:] for ln in code.splitlines() if ln.strip().startswith("# name ")
                    or ln.strip().startswith("# phone ") or ln.strip().startswith("# health ")]
        self.assertEqual(len(promised), 3, code)
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "policies"))
            shutil.copy(os.path.join(SOURCE_DIR, "policies", "community.yaml"),
                        os.path.join(tmp, "policies"))
            r = run_code(code, cwd=tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.splitlines(), promised)


if __name__ == "__main__":
    unittest.main()
