/* rawdb.h: the vault file opened as an insider would, through SQLCipher
 * with the key `vaultctl key db-key` hands out, to plant tampering
 * behind libvault's back (the audit tests).  Include after cmocka,
 * sodium and sqlite3. */
#ifndef VAULT_TESTS_RAWDB_H
#define VAULT_TESTS_RAWDB_H

static inline sqlite3 *tu_raw_db(vault *v, const char *path)
{
    char key[80];
    sqlite3 *db = NULL;

    /* A PostgreSQL run (testutil.h tu_on_pg) has no file: such a test of
     * the file's rows skips there; the DBA's tampering through psql is
     * tests/pg/test_pg_tamper.sh's. */
    if (tu_on_pg()) {
        print_message("the vault file's rows: a SQLCipher vault's test\n");
        skip();
    }
    assert_int_equal(vault_db_key(key, sizeof key, v), 0);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_key(db, key, (int)strlen(key)), SQLITE_OK);
    sodium_memzero(key, sizeof key);
    assert_int_equal(sqlite3_exec(db, "PRAGMA cipher_page_size = 4096", NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

#endif
