/* Replay driver: feeds every file under a directory (recursively) to a
 * fuzz target's LLVMFuzzerTestOneInput, so ctest re-runs the corpora with
 * the ordinary compiler and sanitizers.  Fails when the directory is
 * missing, unreadable or holds no file, or when an input can't be read.
 *
 *   replay_fuzz_<name> fuzz/corpus/fuzz_<name> [more dirs or files...] */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target: weak, so targets without it link too. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_DEPTH 16
#define REPLAY_MAX_INPUT (64u * 1024 * 1024)

static size_t replayed;
static int failed;

static int run_file(const char *path, off_t size)
{
    FILE *f;
    uint8_t *buf;
    size_t n;

    if (size < 0 || (uint64_t)size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: %s: too large\n", path);
        return -1;
    }
    /* Exactly `size` bytes (at least one for malloc), so the sanitizers see
     * a read past the input's end. */
    buf = malloc(size ? (size_t)size : 1);
    f = fopen(path, "rb");
    if (!buf || !f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        free(buf);
        if (f)
            fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (n != (size_t)size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    replayed++;
    return 0;
}

static int walk(const char *path, int depth)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char *child;
    size_t len;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return run_file(path, st.st_size);
    if (!S_ISDIR(st.st_mode))
        return 0; /* sockets, fifos: not inputs */
    if (depth > REPLAY_MAX_DEPTH) {
        fprintf(stderr, "replay: %s: nested too deeply\n", path);
        return -1;
    }
    d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        len = strlen(path) + strlen(de->d_name) + 2;
        child = malloc(len);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, len, "%s/%s", path, de->d_name);
        rc = walk(child, depth + 1);
        free(child);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [...]\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++)
        if (walk(argv[i], 0) != 0)
            failed = 1;
    if (failed)
        return 1;
    if (replayed == 0) {
        fprintf(stderr, "replay: no inputs found under %s\n", argv[1]);
        return 1;
    }
    printf("replay: %zu inputs ran cleanly\n", replayed);
    return 0;
}
