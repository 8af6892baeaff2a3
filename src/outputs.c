/*
 * outputs.c - opening, feeding and closing the run's writers (outputs.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "smtpscope.h"

/*
 * An output file, created mode 0640 (before the umask): records and
 * reports hold addresses and user names, not for every local user.  An
 * existing file keeps its mode.  append: for SIGHUP's reopen.
 */
static FILE *open_output(const char *path, bool append)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0640);
    if (fd < 0) {
        return NULL;
    }
    FILE *f = fdopen(fd, append ? "a" : "w");
    if (f == NULL) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

int outputs_open(struct outputs *o, const char *json_path, const char *report_path, bool quiet,
                 bool flush_each, const struct report_meta *meta, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->json_path = json_path;
    o->report_path = report_path;
    /* calloc, not malloc + stats_init: the ~1 MB of histograms is zero
     * already, and pages no sample lands in are never touched. */
    o->stats = calloc(1, sizeof(*o->stats));
    if (o->stats == NULL) {
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    FILE *summary_to = stdout;
    if (json_path != NULL) {
        if (strcmp(json_path, "-") == 0) {
            o->json_file = stdout;
            summary_to = stderr;
        } else if ((o->json_file = open_output(json_path, false)) == NULL) {
            snprintf(err, errlen, "%s: %s", json_path, strerror(errno));
            return SMTPSCOPE_ERR_OUTPUT;
        }
        writer_jsonl_init(&o->json, o->json_file);
        o->json.flush_each = flush_each;
        o->has_json = true;
    }
    if (report_path != NULL && strcmp(report_path, "-") == 0) {
        if (o->json_file == stdout) {
            snprintf(err, errlen, "--json - and --report - cannot both write to standard output");
            return SMTPSCOPE_ERR_USAGE;
        }
        summary_to = stderr;
    }
    if (!quiet) {
        writer_text_init(&o->text, summary_to);
        o->has_text = true;
    }
    if (report_path != NULL) {
        if (strcmp(report_path, "-") == 0) {
            o->html_file = stdout;
        } else if ((o->html_file = open_output(report_path, false)) == NULL) {
            snprintf(err, errlen, "%s: %s", report_path, strerror(errno));
            return SMTPSCOPE_ERR_OUTPUT;
        }
        writer_html_init(&o->html, o->html_file, meta);
        o->has_html = true;
    }
    return SMTPSCOPE_OK;
}

void outputs_record(void *ctx, const struct session_record *r)
{
    struct outputs *o = ctx;
    if (o->max_records > 0 && o->stats->n_sessions >= o->max_records) {
        return;
    }
    stats_add(o->stats, r);
    metrics_record(o->metrics, r);
    if (o->has_json) {
        o->json.session(&o->json, r);
    }
    if (o->has_text) {
        o->text.session(&o->text, r);
    }
    if (o->has_html) {
        o->html.session(&o->html, r);
    }
}

int outputs_summary(struct outputs *o, const struct run_input *in, char *err, size_t errlen)
{
    int rc = SMTPSCOPE_OK;
    struct run_report rep = {o->stats, in};
    if (o->has_json) {
        o->json.summary(&o->json, &rep);
        if (fflush(o->json_file) != 0 || o->json.failed) {
            snprintf(err, errlen, "writing JSON: %s", strerror(errno));
            rc = SMTPSCOPE_ERR_OUTPUT;
        }
    }
    if (o->has_text) {
        o->text.summary(&o->text, &rep);
        fflush(o->text.out);
    }
    if (o->has_html) {
        o->html.summary(&o->html, &rep);
        if (fflush(o->html_file) != 0 || o->html.failed) {
            snprintf(err, errlen, "writing %s: %s", o->report_path, strerror(errno));
            rc = SMTPSCOPE_ERR_OUTPUT;
        }
    }
    return rc;
}

int outputs_reopen_json(struct outputs *o, char *err, size_t errlen)
{
    if (!o->has_json || o->json_file == stdout) {
        return SMTPSCOPE_OK;
    }
    FILE *f = open_output(o->json_path, true);
    if (f == NULL) {
        snprintf(err, errlen, "cannot reopen %s: %s", o->json_path, strerror(errno));
        return SMTPSCOPE_ERR_OUTPUT;
    }
    fclose(o->json_file);
    o->json_file = f;
    o->json.out = f;
    return SMTPSCOPE_OK;
}

void outputs_restart(struct outputs *o)
{
    stats_init(o->stats);
}

void outputs_close(struct outputs *o)
{
    if (o->has_json) {
        writer_free(&o->json);
        if (o->json_file != stdout) {
            fclose(o->json_file);
        }
    }
    if (o->has_text) {
        writer_free(&o->text);
    }
    if (o->has_html) {
        writer_free(&o->html);
        if (o->html_file != stdout) {
            fclose(o->html_file);
        }
    }
    free(o->stats);
    memset(o, 0, sizeof(*o));
}

static long resident_kib(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%*s %ld", &pages) != 1) {
            pages = 0;
        }
        fclose(f);
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

void outputs_stats_line(const struct outputs *o, FILE *f, uint64_t packets, uint64_t dropped,
                        uint64_t if_dropped, uint64_t sessions_open)
{
    fprintf(f,
            "smtpscope: packets %llu, drops %llu kernel %llu interface, sessions open %llu "
            "closed %llu, abnormal %llu, resident %ld KiB\n",
            (unsigned long long)packets, (unsigned long long)dropped,
            (unsigned long long)if_dropped, (unsigned long long)sessions_open,
            (unsigned long long)o->stats->n_sessions, (unsigned long long)o->stats->n_abnormal,
            resident_kib());
}
