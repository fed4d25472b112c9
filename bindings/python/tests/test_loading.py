"""Finding the library, declarations, struct layouts and constants."""

import ctypes
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import libvault
from libvault import _native

from . import BINDINGS_DIR, SOURCE_DIR

HEADER = os.path.join(SOURCE_DIR, "include", "vault.h")


def _run(code, env_update=None, drop=(), cwd=None):
    env = dict(os.environ)
    for k in drop:
        env.pop(k, None)
    env["PYTHONPATH"] = BINDINGS_DIR
    env.update(env_update or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def _maps_files():
    with open("/proc/self/maps", encoding="utf-8") as f:
        return {ln.split(None, 5)[5].strip() for ln in f if len(ln.split(None, 5)) == 6}


def _installed():
    r = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True)
    return "libvault.so" in r.stdout


class LoadingTest(unittest.TestCase):
    def test_found_through_libvault_path(self):
        want = os.environ.get("LIBVAULT_PATH") or _native.library_path
        if not os.path.isabs(want):
            self.skipTest("the loaded library is not a file path: %s" % want)
        r = _run("import libvault; print(libvault.library_path)", {"LIBVAULT_PATH": want})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), want)
        if os.environ.get("LIBVAULT_PATH"):
            self.assertEqual(libvault.library_path, os.environ["LIBVAULT_PATH"])

    def test_library_path_is_the_file_loaded(self):
        path = libvault.library_path
        self.assertTrue(os.path.isabs(path), path)
        self.assertTrue(os.path.isfile(path), path)
        self.assertIn(os.path.realpath(path), _maps_files())
        if os.environ.get("LIBVAULT_PATH"):
            self.assertTrue(os.path.samefile(path, os.environ["LIBVAULT_PATH"]))

    def test_relative_libvault_path_is_made_absolute(self):
        want = _native.library_path
        rel = os.path.relpath(want, BINDINGS_DIR)
        r = _run("import libvault; print(libvault.library_path)", {"LIBVAULT_PATH": rel})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.path.abspath(os.path.join(BINDINGS_DIR, rel)))

    def test_maps_fallback_names_the_same_file(self):
        address = ctypes.cast(_native.lib.vault_init, ctypes.c_void_p).value
        got = _native._path_from_maps(address)
        self.assertIsNotNone(got)
        self.assertTrue(os.path.samefile(got, libvault.library_path))
        self.assertIsNone(_native._path_from_maps(1))  # page 0 is never mapped
        self.assertIsNone(_native._path_from_maps(address, "/nonexistent/maps"))

    def test_found_through_the_dynamic_loader(self):
        # A copy of the package outside the checkout (no build tree to find)
        # and the library's directory on LD_LIBRARY_PATH: find_library and
        # the soname, and library_path names the file the loader opened.
        libdir = os.path.dirname(_native.library_path)
        if not os.path.exists(os.path.join(libdir, "libvault.so.0")):
            self.skipTest("no libvault.so.0 next to %s" % _native.library_path)
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(BINDINGS_DIR, "libvault"), os.path.join(tmp, "libvault"))
            r = _run("import libvault; print(libvault.library_path, libvault.__file__)",
                     {"PYTHONPATH": tmp, "LD_LIBRARY_PATH": libdir}, drop=("LIBVAULT_PATH",),
                     cwd=tmp)
            self.assertEqual(r.returncode, 0, r.stderr)
            path, module = r.stdout.split()
            self.assertTrue(module.startswith(tmp), module)
            self.assertEqual(os.path.dirname(path), libdir)
            self.assertTrue(os.path.basename(path).startswith("libvault.so"), path)
            self.assertTrue(os.path.samefile(path, _native.library_path))

    def test_not_found_lists_what_was_tried(self):
        if _installed():
            self.skipTest("a libvault is installed system-wide (ldconfig -p)")
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(os.path.join(BINDINGS_DIR, "libvault"), os.path.join(tmp, "libvault"))
            r = _run("import libvault", {"PYTHONPATH": tmp},
                     drop=("LIBVAULT_PATH", "LD_LIBRARY_PATH"), cwd=tmp)
        self.assertNotEqual(r.returncode, 0)
        last = r.stderr.strip().splitlines()[-1]
        self.assertTrue(last.startswith("ImportError: libvault: the shared library was not found"),
                        last)
        for tried in ("LIBVAULT_PATH (not set)", "not in a libvault checkout",
                      "find_library('vault') (found nothing)", "libvault.so.0 ("):
            self.assertIn(tried, last)

    def test_bad_libvault_path_is_an_import_error(self):
        r = _run("import libvault", {"LIBVAULT_PATH": "/nonexistent/libvault.so"})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("LIBVAULT_PATH", r.stderr)
        self.assertIn("/nonexistent/libvault.so", r.stderr)

    def test_name_max_mismatch_is_an_import_error(self):
        # A library whose vault_name_max() disagrees with the mirrored structs.
        code = textwrap.dedent("""
            import ctypes
            real = ctypes.CDLL
            class Fake:
                restype = None
                argtypes = None
                def __call__(self):
                    return 64
            class Lib:
                def __init__(self, *a, **k):
                    self.__dict__["_l"] = real(*a, **k)
                    self.__dict__["vault_name_max"] = Fake()
                def __getattr__(self, name):
                    return getattr(self._l, name)
            ctypes.CDLL = Lib
            try:
                import libvault
            except ImportError as e:
                print("IMPORT-ERROR:", e)
            else:
                print("imported")
        """)
        r = _run(code)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("IMPORT-ERROR:", r.stdout)
        self.assertIn("vault_name_max() = 64", r.stdout)
        self.assertIn("VAULT_NAME_MAX = 128", r.stdout)

    def test_every_header_function_is_declared(self):
        with open(HEADER, encoding="utf-8") as f:
            header = f.read()
        names = re.findall(r"^VAULT_API\s+[^(;]*?\b(vault_\w+)\s*\(", header, re.M)
        self.assertGreater(len(names), 80)
        for name in names:
            fn = getattr(_native.lib, name)
            self.assertIsNotNone(fn.argtypes, "%s has no argtypes" % name)

    def test_structs_mirror_the_header(self):
        with open(HEADER, encoding="utf-8") as f:
            header = f.read()
        for m in re.finditer(r"typedef struct (vault_\w+) \{(.*?)\} \1;", header, re.S):
            name, body = m.group(1), m.group(2)
            body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
            want = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                # one dimension or more: [A] or [A][B] (the product counts)
                am = re.match(r".*?\b(\w+)\s*((?:\[[^\]]+\])+)$", decl)
                if am:
                    expr = "*".join("(%s)" % d for d in re.findall(r"\[([^\]]+)\]", am.group(2)))
                    expr = expr.replace("VAULT_NAME_MAX", str(libvault.NAME_MAX))
                    expr = expr.replace("VAULT_REASON_TEXT_SIZE",
                                        str(_native.lib.vault_reason_text_size()))
                    expr = expr.replace("VAULT_PROOF_HASHES_MAX",
                                        str(_native.lib.vault_proof_hashes_max()))
                    self.assertRegex(expr, r"^[\d\s+*()]+$")
                    want.append((am.group(1), eval(expr)))  # digits, + and * only
                else:
                    want.append((re.findall(r"\w+", decl)[-1], None))
            struct = getattr(_native, name)
            got = []
            for fname, ftype in struct._fields_:
                length = None
                while issubclass(ftype, ctypes.Array):  # nested arrays: the product
                    length = (length or 1) * ftype._length_
                    ftype = ftype._type_
                got.append((fname, length))
            self.assertEqual(got, want, name)

    def test_constants_come_from_the_library(self):
        lib = _native.lib
        self.assertEqual(int(libvault.Effect.DENY), lib.vault_const_effect_deny())
        self.assertEqual(int(libvault.Effect.MASK), lib.vault_const_effect_mask())
        self.assertEqual(int(libvault.Effect.ALLOW), lib.vault_const_effect_allow())
        self.assertEqual(int(libvault.Action.SEARCH), lib.vault_const_action_search())
        self.assertEqual(int(libvault.UnlockKind.KEYFILE), lib.vault_const_unlock_keyfile())
        self.assertEqual(libvault.ID_HEX_SIZE, lib.vault_id_hex_size())
        self.assertEqual(libvault.NAME_MAX, lib.vault_name_max())
        self.assertEqual(libvault.VALUE_MAX, lib.vault_value_max())
        self.assertEqual(libvault.library_version_info[0], lib.vault_version_major())
        self.assertRegex(libvault.library_version, r"^\d+\.\d+\.\d+")


if __name__ == "__main__":
    unittest.main()
