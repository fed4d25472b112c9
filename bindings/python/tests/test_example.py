"""The 12345 hotline example runs and prints the access trail."""

import os
import subprocess
import sys
import unittest

from . import BINDINGS_DIR, SOURCE_DIR

EXAMPLE = os.path.join(BINDINGS_DIR, "examples", "hotline.py")
README = os.path.join(BINDINGS_DIR, "README.md")


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
        with open(README, encoding="utf-8") as f:
            text = f.read()
        start = text.index("```python\n") + len("```python\n")
        code = text[start:text.index("```", start)]
        env = dict(os.environ)
        env["PYTHONPATH"] = BINDINGS_DIR
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300, cwd=SOURCE_DIR)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("phone MASK 138****5678", r.stdout)
        self.assertIn("health DENY None", r.stdout)
        self.assertIn("export intact:", r.stdout)


if __name__ == "__main__":
    unittest.main()
