/* witness_state: the state directory (docs/witness.md "State directory"):
 *   DIR/lock                    held (flock) by the running witness
 *   DIR/logs/ID.checkpoint      per log, the last checkpoint cosigned, as
 *                               the log signed it
 *   DIR/evidence/ID-SIZE-KIND-HASH.request, .held
 *                               refused requests kept as evidence
 * Every file is written whole and atomically. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_format.h"
#include "crypto.h"
#include "internal.h"
#include "witness_int.h"

#define PATH_CAP 4096

static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok;

    if (fd < 0)
        return -1;
    ok = fsync(fd);
    close(fd);
    return ok;
}

int witness__write_atomic(const char *dir, const char *sub, const char *name, const void *data,
                          size_t len)
{
    int rc = VAULT_OK, fd = -1, made = 0;
    char folder[PATH_CAP], tmp[PATH_CAP], final[PATH_CAP];
    const char *p = data;
    ssize_t n;

    ENSURE((size_t)snprintf(folder, sizeof folder, "%s/%s", dir, sub) < sizeof folder &&
               (size_t)snprintf(final, sizeof final, "%s/%s", folder, name) < sizeof final &&
               (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", folder, name) < sizeof tmp,
           VAULT_EINVALID, "witness: state path too long");
    fd = mkostemp(tmp, O_CLOEXEC);
    ENSURE(fd >= 0, VAULT_EIO, "witness: cannot create a file in %s: %s", folder, strerror(errno));
    made = 1;
    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        ENSURE(n > 0, VAULT_EIO, "witness: cannot write %s: %s", final, strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    ENSURE(fsync(fd) == 0, VAULT_EIO, "witness: cannot sync %s: %s", final, strerror(errno));
    ENSURE(close(fd) == 0, VAULT_EIO, "witness: cannot write %s: %s", final, strerror(errno));
    fd = -1;
    ENSURE(rename(tmp, final) == 0, VAULT_EIO, "witness: cannot replace %s: %s", final,
           strerror(errno));
    made = 0;
    ENSURE(sync_dir(folder) == 0, VAULT_EIO, "witness: cannot sync %s: %s", folder,
           strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (made)
        unlink(tmp);
    return rc;
}

static int make_dir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) == 0)
        return VAULT_OK;
    if (errno == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return VAULT_OK;
    return vault__err(VAULT_EIO, "witness: cannot create the folder %s: %s", path,
                      errno == EEXIST ? "not a folder" : strerror(errno));
}

int witness__state_open(int *lock_fd, const char *dir)
{
    int rc = VAULT_OK, fd = -1;
    char path[PATH_CAP];

    *lock_fd = -1;
    ENSURE(strlen(dir) < PATH_CAP - 64, VAULT_EINVALID, "witness: state path too long");
    GUARD(make_dir(dir));
    snprintf(path, sizeof path, "%s/logs", dir);
    GUARD(make_dir(path));
    snprintf(path, sizeof path, "%s/evidence", dir);
    GUARD(make_dir(path));
    snprintf(path, sizeof path, "%s/lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    ENSURE(fd >= 0, VAULT_EIO, "witness: cannot open %s: %s", path, strerror(errno));
    /* Two witnesses on one state would each answer from their own memory. */
    ENSURE(flock(fd, LOCK_EX | LOCK_NB) == 0, VAULT_EBUSY,
           "witness: %s is in use by another witness process", dir);
    *lock_fd = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

int witness__state_load(witness *w, witness_log *l)
{
    int rc = VAULT_OK, fd = -1;
    char path[PATH_CAP], *buf = NULL;
    af_checkpoint cp;
    ssize_t n;

    snprintf(path, sizeof path, "%s/logs/%s.checkpoint", w->dir, l->id);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        goto cleanup; /* never cosigned for this log */
    ENSURE(fd >= 0, VAULT_EIO, "witness: cannot open %s: %s", path, strerror(errno));
    buf = malloc(AF_NOTE_MAX + 2);
    ENSURE(buf, VAULT_ENOMEM, "out of memory reading witness state");
    n = read(fd, buf, AF_NOTE_MAX + 1);
    ENSURE(n >= 0, VAULT_EIO, "witness: cannot read %s: %s", path, strerror(errno));
    /* Fail closed: a state that is not the log's signed checkpoint could
     * make the witness cosign a smaller tree or another history. */
    ENSURE(af_checkpoint_verify(&cp, buf, (size_t)n, l->origin, l->pk) == VAULT_OK, VAULT_EINTEGRITY,
           "witness: %s does not verify with the key of log %s; not starting", path, l->origin);
    l->has = 1;
    l->size = cp.size;
    memcpy(l->root, cp.root, 32);
cleanup:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int witness__state_save(witness *w, const witness_log *l, const char *note, size_t len)
{
    char name[WITNESS_ID_HEX + 16];

    snprintf(name, sizeof name, "%s.checkpoint", l->id);
    return witness__write_atomic(w->dir, "logs", name, note, len);
}

int witness__evidence(witness *w, const witness_log *l, const char *kind, uint64_t size,
                      const char *body, size_t len)
{
    int rc = VAULT_OK;
    char name[128], held[PATH_CAP], hex[17], *buf = NULL;
    uint8_t h[32];
    ssize_t n = 0;
    int fd;

    vc_sha256(h, body, len);
    GUARD(vc_bin2hex(hex, sizeof hex, h, 8));
    /* The same request twice is kept once. */
    snprintf(name, sizeof name, "%s-%" PRIu64 "-%s-%s.request", l->id, size, kind, hex);
    GUARD(witness__write_atomic(w->dir, "evidence", name, body, len));
    snprintf(held, sizeof held, "%s/logs/%s.checkpoint", w->dir, l->id);
    fd = open(held, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        goto cleanup; /* nothing held yet */
    buf = malloc(AF_NOTE_MAX + 1);
    if (buf)
        n = read(fd, buf, AF_NOTE_MAX + 1);
    close(fd);
    ENSURE(buf && n >= 0, VAULT_EIO, "witness: cannot read %s", held);
    snprintf(name, sizeof name, "%s-%" PRIu64 "-%s-%s.held", l->id, size, kind, hex);
    GUARD(witness__write_atomic(w->dir, "evidence", name, buf, (size_t)n));
cleanup:
    free(buf);
    return rc;
}
