/* The two libc streams that the SQLCipher inside libvault names.
 *
 * Debian's libsqlcipher.a is position-independent executable code: its
 * one reference each to stdout and stderr (sqlcipher_cipher_profile) is a
 * direct load that a shared library can't resolve against libc.  The
 * build renames them to these variables (cmake/sqlcipher-embed.cmake),
 * hidden like every internal name, which hold libc's FILE pointers from
 * the moment the library is loaded.  libvault never enables
 * PRAGMA cipher_profile; they are here so the code that names them links
 * and stays correct. */
#include <stdio.h>

FILE *vault__sqlcipher_stdout;
FILE *vault__sqlcipher_stderr;

__attribute__((constructor)) static void vault__sqlcipher_stdio(void)
{
    vault__sqlcipher_stdout = stdout;
    vault__sqlcipher_stderr = stderr;
}
