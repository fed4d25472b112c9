/* files: the checks vaultd makes on the files it trusts (config.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vd_file_trusted(int fd, const char *path, const char *what, char *err, size_t err_cap)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        snprintf(err, err_cap, "%s: %s: cannot stat: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_cap, "%s: %s: not a regular file", what, path);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, err_cap, "%s: %s: others may write it (mode %04o): chmod go-w", what, path,
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(err, err_cap, "%s: %s: owned by uid %u, neither root nor vaultd's user", what,
                 path, (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}
