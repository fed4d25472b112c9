/* vaultctl: the one way the CLI creates files (exports, checkpoints, keys).
 * Every file is new (O_EXCL: never overwrites, never follows a symlink at
 * the name), and 0600 whatever the umask, because what vaultctl writes is
 * resident data, audit history or key material. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_file_create(FILE **out, const cli *c, const char *path)
{
    const char *cmd = c->cmd ? c->cmd : "error";
    struct stat st;
    int fd = -1, err, ex = EXIT_OK;

    *out = NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        err = errno;
        if (err == EEXIST && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            cli_errf("%s: %s: %s: is a symbolic link; not followed, nothing written",
                    c->prog, cmd, path);
        else if (err == EEXIST)
            cli_errf("%s: %s: %s: already exists; not overwritten (choose a new name)",
                    c->prog, cmd, path);
        else
            cli_errf("%s: %s: %s: cannot create: %s", c->prog, cmd, path,
                    strerror(err));
        ex = EXIT_FAIL;
        goto out;
    }
    /* The umask can only take bits away from 0600; fchmod makes it exact. */
    if (fchmod(fd, 0600) != 0 || !(*out = fdopen(fd, "w"))) {
        cli_errf("%s: %s: %s: cannot create: %s", c->prog, cmd, path,
                strerror(errno));
        close(fd);
        unlink(path);
        ex = EXIT_FAIL;
        goto out;
    }
out:
    return ex;
}

int cli_file_finish(const cli *c, FILE *f, const char *path, int ok)
{
    const char *cmd = c->cmd ? c->cmd : "error";
    int ex = EXIT_OK, failed;

    failed = ok && (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0);
    if (fclose(f) != 0)
        failed = 1;
    if (!ok || failed) {
        /* Never leave half a file under the name asked for. */
        if (failed)
            cli_errf("%s: %s: %s: write failed; file removed", c->prog, cmd, path);
        unlink(path);
        ex = EXIT_FAIL;
    }
    return ex;
}

int cli_file_write(const cli *c, const char *path, const char *text, size_t len)
{
    FILE *f = NULL;
    int ex;

    if ((ex = cli_file_create(&f, c, path)) != EXIT_OK)
        goto out;
    (void)fwrite(text, 1, len, f); /* a short write sets the error flag */
    ex = cli_file_finish(c, f, path, 1);
out:
    return ex;
}
