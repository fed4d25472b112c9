"""The package metadata (pyproject.toml) agrees with the C library it wraps."""

import os
import re
import tomllib
import unittest

import libvault

from . import BINDINGS_DIR, SOURCE_DIR

PYPROJECT = os.path.join(BINDINGS_DIR, "pyproject.toml")


class MetadataTest(unittest.TestCase):
    def setUp(self) -> None:
        with open(PYPROJECT, "rb") as f:
            self.meta = tomllib.load(f)
        self.project = self.meta["project"]

    def test_version_is_the_c_librarys(self):
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
            m = re.search(r"project\(libvault VERSION (\d+\.\d+\.\d+)", f.read())
        self.assertIsNotNone(m)
        self.assertEqual(self.project["version"], m.group(1))
        self.assertEqual(self.project["version"], libvault.library_version)

    def test_metadata(self):
        self.assertEqual(self.project["name"], "libvault")
        self.assertEqual(self.project["requires-python"], ">=3.11")
        self.assertTrue(self.project["description"])
        self.assertTrue(self.project["license"]["text"])
        self.assertIn("Typing :: Typed", self.project["classifiers"])
        self.assertEqual(self.meta["build-system"]["build-backend"], "setuptools.build_meta")

    def test_py_typed_is_package_data(self):
        self.assertIn("py.typed", self.meta["tool"]["setuptools"]["package-data"]["libvault"])
        self.assertTrue(os.path.isfile(os.path.join(BINDINGS_DIR, "libvault", "py.typed")))


if __name__ == "__main__":
    unittest.main()
