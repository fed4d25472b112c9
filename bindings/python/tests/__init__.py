"""unittest suite of the libvault Python bindings, with shared fixtures.

Run from bindings/python (ctest does this as `python_bindings`):

    LIBVAULT_PATH=/path/to/libvault.so VAULT_SOURCE_DIR=/path/to/repo \\
        python3 -m unittest discover -v -s tests -t .
"""

import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS_DIR = os.path.dirname(HERE)
SOURCE_DIR = os.environ.get("VAULT_SOURCE_DIR") or os.path.normpath(
    os.path.join(BINDINGS_DIR, "..", ".."))

COMMUNITY = os.path.join(SOURCE_DIR, "policies", "community.yaml")
HOTLINE = os.path.join(SOURCE_DIR, "policies", "hotline.yaml")
LIMITS = os.path.join(SOURCE_DIR, "tests", "data", "grants", "limits.yaml")

STREET = "hangzhou/gongshu/xiaohe"
GRID7 = STREET + "/changzheng/grid-07"
OTHER_GRID = STREET + "/hushu/grid-01"
PASS = "correct horse battery staple"

import libvault  # noqa: E402  (after the paths above, for clearer failures)


class VaultCase(unittest.TestCase):
    """A temporary directory and a community-policy vault opened with a key file."""

    policy = COMMUNITY

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="libvault-py-")
        self.dir = self._tmp.name
        self.path = os.path.join(self.dir, "test.vault")
        self.key = os.path.join(self.dir, "test.key")
        libvault.generate_key_file(self.key)
        self.v = libvault.Vault.create(self.path, self.policy, key_file=self.key)
        self.addCleanup(self._tmp.cleanup)
        self.addCleanup(self.v.close)

    def officer(self, vault=None, purpose="resident_service", user="li"):
        """A street data officer's session (closed at the end of the test)."""
        s = (vault or self.v).session(user=user, role="data_officer",
                                      department="street_office", jurisdiction=STREET,
                                      purpose=purpose)
        self.addCleanup(s.close)
        return s

    def grid(self, vault=None, user="wang", jurisdiction=GRID7):
        """A grid-07 grid worker's session."""
        s = (vault or self.v).session(user=user, role="grid_worker",
                                      department="community_committee",
                                      jurisdiction=jurisdiction, purpose="grid_management")
        self.addCleanup(s.close)
        return s

    def add_resident(self, session, name="张三丰", phone="13812345678",
                     id_number="11010119900307123X", jurisdiction=GRID7, **more):
        fields = {"name": name, "phone": phone, "id_number": id_number}
        fields.update(more)
        return session.create(jurisdiction, fields)
