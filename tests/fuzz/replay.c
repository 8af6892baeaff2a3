/*
 * replay.c - runs a fuzz harness over saved inputs, without libFuzzer.
 *
 * Role: libpcap's onefile.c idea.  Linked with one harness's
 * LLVMFuzzerTestOneInput() and built with gcc and ASan/UBSan, it lets
 * `make fuzz-replay` (and so `make check`) run the seed corpus and every
 * crasher ever saved, on machines without clang's fuzzer runtime.
 * Arguments are files or directories (not recursive; names starting with
 * '.' and README* are skipped).  Exit 0 when every input ran; a crash
 * aborts with the sanitizer's report, after the input's path was printed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static unsigned long g_n_run;
static const char *g_current; /* the input being run, for crash reports */

static void say_current(void)
{
    if (g_current != NULL) {
        static const char pre[] = "replay: crashed on input ";
        (void)!write(2, pre, sizeof(pre) - 1);
        (void)!write(2, g_current, strlen(g_current));
        (void)!write(2, "\n", 1);
    }
}

static void on_abort(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (grown == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so reads past the end are caught as in libFuzzer. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    if (getenv("REPLAY_VERBOSE") != NULL) {
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    }
    g_current = path;
    LLVMFuzzerTestOneInput(exact, len);
    g_current = NULL;
    free(exact);
    g_n_run++;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0) {
            continue;
        }
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (grown == NULL) {
            break;
        }
        names = grown;
        size_t plen = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(plen);
        if (names[n] == NULL) {
            break;
        }
        snprintf(names[n], plen, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) {
        qsort(names, n, sizeof(*names), name_cmp); /* same order every run */
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && run_file(names[i]) != 0) {
            rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0;
    signal(SIGABRT, on_abort);
    signal(SIGSEGV, on_abort);
    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(say_current);
    }
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i]) != 0;
        } else {
            rc |= run_file(argv[i]) != 0;
        }
    }
    fprintf(stderr, "replay: %lu inputs ran\n", g_n_run);
    return rc;
}
