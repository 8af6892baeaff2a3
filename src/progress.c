/*
 * progress.c - the progress line of a long offline read (progress.h).
 *
 * Writes only to standard error and only when it is a terminal; each
 * redraw is one write of "\r", the line and "\033[K" (erase to the end of
 * the line).  The line is kept within the terminal's width by leaving out
 * the parts that do not fit (a line that wrapped could not be redrawn in
 * place): "12.8 MiB of 300.3 MiB (4%), 93209 packets/s, 59 sessions, 3 s
 * left".
 *
 * SPDX-License-Identifier: MIT
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_start(struct progress *p, const char *const *paths, size_t n, bool wanted)
{
    memset(p, 0, sizeof(*p));
    struct winsize ws;
    p->is_on = wanted && isatty(STDERR_FILENO);
    if (!p->is_on) {
        return;
    }
    p->width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 ? ws.ws_col : 80;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (strcmp(paths[i], "-") == 0 || stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            p->total_bytes = 0; /* one unknown size: no total */
            break;
        }
        p->total_bytes += (uint64_t)st.st_size;
    }
    p->until_check = PROGRESS_CHECK_EVERY;
    p->start_ms = monotonic_ms();
    p->next_ms = p->start_ms + PROGRESS_AFTER_MS;
}

/* 1023 B, 12.3 KiB, 456.7 MiB, 1.2 GiB */
static int put_bytes(char *out, size_t cap, uint64_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        v /= 1024;
        u++;
    }
    return snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

/* 45 s, 12 min 5 s, 3 h 12 min */
static int put_eta(char *out, size_t cap, int64_t s)
{
    if (s < 60) {
        return snprintf(out, cap, "%lld s", (long long)s);
    }
    if (s < 3600) {
        return snprintf(out, cap, "%lld min %lld s", (long long)(s / 60), (long long)(s % 60));
    }
    return snprintf(out, cap, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

/* Appends part to line (len so far) if the line still fits in limit
 * bytes; a part that does not fit is left out whole, never cut. */
static size_t add_part(char *line, size_t len, size_t limit, const char *part)
{
    size_t n = strlen(part);
    if (len + n > limit) {
        return len;
    }
    memcpy(line + len, part, n);
    return len + n;
}

void progress_draw(struct progress *p, uint64_t sessions)
{
    if (!p->is_on) {
        return;
    }
    int64_t now = monotonic_ms();
    if (now < p->next_ms) {
        return;
    }
    p->next_ms = now + PROGRESS_REDRAW_MS;
    double secs = (double)(now - p->start_ms) / 1000.0;
    /* One column is left free: a line that fills the last one wraps on
     * some terminals, and then "\r" no longer goes back to its start. */
    size_t limit = p->width - 1 + 1; /* "\r" takes no column */
    char line[256];
    char part[96];
    size_t len = 0;
    bool has_total = p->total_bytes > 0 && p->n_bytes <= p->total_bytes;
    len = add_part(line, len, sizeof(line), "\r");
    put_bytes(part, sizeof(part), p->n_bytes);
    len = add_part(line, len, limit, part);
    if (has_total) {
        char total[32];
        put_bytes(total, sizeof(total), p->total_bytes);
        snprintf(part, sizeof(part), " of %s (%.0f%%)", total,
                 100.0 * (double)p->n_bytes / (double)p->total_bytes);
        len = add_part(line, len, limit, part);
    }
    snprintf(part, sizeof(part), ", %.0f packets/s",
             secs > 0 ? (double)p->n_packets / secs : 0.0);
    len = add_part(line, len, limit, part);
    snprintf(part, sizeof(part), ", %llu sessions", (unsigned long long)sessions);
    len = add_part(line, len, limit, part);
    if (has_total && p->n_bytes > 0) {
        double left = secs * (double)(p->total_bytes - p->n_bytes) / (double)p->n_bytes;
        char eta[40];
        put_eta(eta, sizeof(eta), (int64_t)(left + 0.5));
        snprintf(part, sizeof(part), ", %s left", eta);
        len = add_part(line, len, limit, part);
    }
    memcpy(line + len, "\033[K", 3);
    len += 3;
    /* A failed write to the terminal changes nothing of the results. */
    if (write(STDERR_FILENO, line, len) < 0) {
        p->is_on = false;
    }
    p->drawn = true;
}

void progress_end(struct progress *p)
{
    if (p->drawn && write(STDERR_FILENO, "\r\033[K", 4) < 0) {
        p->is_on = false;
    }
    p->drawn = false;
}
