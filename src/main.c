/*
 * main.c - the command line's run: inputs, outputs, signals, exit statuses.
 *
 * The input (input.h) is opened first, then the outputs, both before -Z
 * gives root up; the read loop (run_loop.c) then hands the packets to the
 * engine (engine.h): this process's pipeline, or N worker processes
 * running the same pipeline on their share of the connections.  Either
 * way every finished record comes back to the outputs (outputs.h).  The
 * signal handlers here only set flags the loop reads.  This is the only
 * file that maps SMTPSCOPE_ERR_* codes to exit statuses (docs/smtpscope.1,
 * EXIT STATUS); errors of the run are printed here, the loop's own
 * warnings (a JSON file that could not be reopened) where they happen.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "explain.h"
#include "i18n.h"
#include "extract.h"
#include "engine.h"
#include "input.h"
#include "metrics.h"
#include "options.h"
#include "pipeline.h"
#include "progress.h"
#include "stats.h"
#include "outputs.h"
#include "report_meta.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "run_loop.h"
#include "workers.h"

static struct run_flags g_flags; /* the only state the handlers touch */

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_flags.stats_now = 1;
        g_flags.asked = 1;
    } else if (sig == SIGHUP) {
        g_flags.reopen = 1;
        g_flags.asked = 1;
    } else {
        g_flags.stop = 1;
        g_flags.interrupted = 1;
    }
}

static int exit_status(int err)
{
    switch (err) {
    case SMTPSCOPE_OK:
        return 0;
#define XX(name, value, status, text)                                          \
    case SMTPSCOPE_ERR_##name:                                                 \
        return status;
        SMTPSCOPE_ERR_MAP(XX)
#undef XX
    default:
        return 6;
    }
}

/* ---- set-up and tear-down ------------------------------------------------ */

/* Extracted files are named by the session's public id, which is known
 * only once the workers' records are merged: --extract reads in one. */
static unsigned processes_wanted(const struct options *o)
{
    unsigned n = o->workers == 0 ? workers_auto_count() : (unsigned)o->workers;
    return o->extract_dir != NULL ? 1 : n;
}

/* The input, then (still with root, for -Z) the outputs. */
static int open_input(struct run *run)
{
    int rc = input_open(&run->in, &run->opt, processes_wanted(&run->opt), run->err,
                        sizeof(run->err));
    run->input.source = run->in.source;
    run->input.linktype_name = run->in.linktype_name;
    run->input.is_live = run->in.is_live;
    return rc;
}

/*
 * What records say about where they come from: the sensor (--sensor, or
 * the host name) and each input's name, a file's name without its
 * directory (records stay the same wherever the file is read from; "-"
 * for standard input), or the interface's.
 */
static void name_inputs(struct run *run)
{
    const char *sensor = run->opt.sensor;
    if (sensor == NULL) {
        if (gethostname(run->host_name, sizeof(run->host_name) - 1) != 0 ||
            run->host_name[0] == '\0') {
            snprintf(run->host_name, sizeof(run->host_name), "unknown");
        }
        sensor = run->host_name;
    }
    size_t n = 0;
    if (run->opt.device != NULL) {
        run->input_names[n++] = run->opt.device;
    }
    for (size_t i = 0; i < run->opt.n_read && n < CAPTURE_FILES_MAX; i++) {
        const char *path = run->opt.read_paths[i];
        const char *slash = strrchr(path, '/');
        run->input_names[n++] = slash != NULL && slash[1] != '\0' ? slash + 1 : path;
    }
    run->out.json.sensor = sensor;
    run->out.text.sensor = sensor;
    run->out.html.sensor = sensor;
    run->out.json.input_names = run->input_names;
    run->out.json.n_inputs = n;
    run->out.json.flat = run->opt.json_flat;
}

/* The writers and the extraction directory: opened before -Z, like the
 * capture, so that root-only log directories work.  A capture taken as it
 * is read (an interface, or a pipe from a capturing tool) has each
 * record written out as it is finished. */
static int open_outputs(struct run *run)
{
    bool as_it_comes = run->opt.device != NULL ||
                       (run->in.files != NULL && capture_set_streamed(run->in.files));
    int rc = outputs_open(&run->out, run->opt.json_path, run->opt.report_path, run->opt.quiet,
                          as_it_comes, &run->meta, run->err, sizeof(run->err));
    run->out.json.community_id_seed = (uint16_t)run->opt.community_id_seed;
    run->out.max_records = (uint64_t)run->opt.max_sessions;
    name_inputs(run);
    if (rc == SMTPSCOPE_OK && run->opt.extract_dir != NULL) {
        run->extractor = extract_open(run->opt.extract_dir, run->err, sizeof(run->err));
        if (run->extractor == NULL) {
            rc = SMTPSCOPE_ERR_OUTPUT;
        } else {
            extract_limit(run->extractor, (uint64_t)run->opt.max_sessions);
        }
    }
    return rc;
}

/* One process, or the workers with the reader's pipeline here. */
static int start_pipeline(struct run *run)
{
    const struct options *o = &run->opt;
    struct pipeline_config cfg;
    options_pipeline_config(o, &cfg, (struct session_sink){outputs_record, &run->out});
    if (run->extractor != NULL) {
        cfg.content = extract_content_sink(run->extractor);
    }
    unsigned n_caps = 0;
    struct capture *caps = input_take_sockets(&run->in, &n_caps);
    /* The workers take their captures; this process keeps caps[0]. */
    int rc = engine_open(&run->eng, &cfg, processes_wanted(o), caps, n_caps, run->err,
                         sizeof(run->err));
    free(caps);
    if (rc == SMTPSCOPE_OK) {
        input_start_reading(&run->in, o, engine_many(&run->eng));
        if (engine_many(&run->eng) && run->in.files != NULL) {
            /* A pipe's records, read by the workers, are written before
             * it waits for more (one process writes them as they end). */
            capture_set_on_wait(run->in.files, engine_settle, &run->eng);
        }
    }
    return rc;
}

/* Ends every open session, writes what waits, gathers the counters. */
static int end_pipeline(struct run *run, enum record_end reason)
{
    const struct run_input *in;
    int rc = engine_finish(&run->eng, reason, &in, run->err, sizeof(run->err));
    struct run_input id = run->input;
    run->input = *in;
    run->input.source = id.source;
    run->input.linktype_name = id.linktype_name;
    run->input.is_live = id.is_live;
    run->input.error = id.error;
    /* The workers' sockets' drops are in their counters; this one's: */
    uint64_t d = 0;
    uint64_t ifd = 0;
    input_drops(&run->in, &d, &ifd);
    run->input.n_dropped += d;
    run->input.n_if_dropped += ifd;
    return rc;
}

/* --metrics: the HTTP thread starts once any workers are forked (a fork
 * copies only the forking thread) and knows their processes. */
static int resume_metrics(struct run *run)
{
    if (run->opt.metrics_listen == NULL) {
        return SMTPSCOPE_OK;
    }
    int rc;
    if (run->metrics == NULL) {
        char bound[80];
        rc = metrics_open(&run->metrics, run->opt.metrics_listen, bound, sizeof(bound), run->err,
                          sizeof(run->err));
        const char *port = strrchr(run->opt.metrics_listen, ':');
        port = port != NULL ? port + 1 : run->opt.metrics_listen;
        if (rc == SMTPSCOPE_OK && strtol(port, NULL, 10) == 0) {
            /* The system chose the port: the only way to learn it. */
            fprintf(stderr, _("smtpscope: metrics at http://%s/metrics\n"), bound);
        }
        run->out.metrics = run->metrics;
    } else {
        rc = metrics_resume(run->metrics, run->err, sizeof(run->err));
    }
    if (rc == SMTPSCOPE_OK && run->eng.workers != NULL) {
        int32_t pids[WORKERS_MAX];
        metrics_set_pids(run->metrics, pids, workers_pids(run->eng.workers, pids, WORKERS_MAX));
    }
    run->next_metrics_us = 0;
    return rc;
}

/* The counts once the input has ended, exact and final, published at
 * once (waiting for a scrape in progress, if any). */
static void publish_final_metrics(struct run *run)
{
    if (run->metrics == NULL) {
        return;
    }
    metrics_set_input(run->metrics, run->input.n_packets, run->input.n_bytes,
                      run->input.n_dropped, run->input.n_if_dropped, 0);
    metrics_set_ended(run->metrics);
    metrics_publish(run->metrics, true);
}

/* --metrics-linger: serve the final counts a while, unless interrupted. */
static void linger_metrics(struct run *run)
{
    if (run->metrics == NULL || run->opt.metrics_linger_s <= 0) {
        return;
    }
    int64_t until = run_wall_clock_us() + run->opt.metrics_linger_s * 1000000;
    while (!g_flags.interrupted && run_wall_clock_us() < until) {
        poll(NULL, 0, 100);
    }
}

/*
 * Files with no SMTP at all on the analysed ports, but SMTP greetings on
 * others: say so, add those ports and read the files again (nothing has
 * been written yet).  Not with --ports (the user chose), not for standard
 * input or live capture (they cannot be read twice).
 */
static bool should_read_again(const struct run *run, int rc)
{
    const struct pipeline *p = engine_reader(&run->eng);
    return rc == SMTPSCOPE_OK && !g_flags.stop && !run->opt.ports_given &&
           input_can_read_again(&run->in, &run->opt) && p->n_greeting_ports > 0 &&
           run->out.stats->n_sessions == 0 && run->input.n_unattached_packets == 0;
}

static int read_again_with_greeting_ports(struct run *run)
{
    char list[256] = "";
    size_t used = 0;
    const struct pipeline *p = engine_reader(&run->eng);
    for (size_t i = 0; i < p->n_greeting_ports && run->opt.n_ports < PIPELINE_PORTS_MAX; i++) {
        run->opt.ports[run->opt.n_ports++] = p->greeting_ports[i];
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", i ? "," : "",
                                 p->greeting_ports[i]);
    }
    fprintf(stderr,
            _("smtpscope: no SMTP on the default ports, but SMTP greetings from port %s: "
              "reading again with those ports (--ports chooses them yourself)\n"),
            list);
    engine_close(&run->eng);
    input_close(&run->in);
    struct run_input id = run->input;
    memset(&run->input, 0, sizeof(run->input));
    run->input.source = id.source;
    run->input.linktype_name = id.linktype_name;
    outputs_restart(&run->out);
    metrics_restart(run->metrics);
    /* Workers are forked again: not with the HTTP thread running. */
    metrics_pause(run->metrics);
    int rc = open_input(run);
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(run);
    }
    if (rc == SMTPSCOPE_OK) {
        rc = resume_metrics(run);
    }
    return rc != SMTPSCOPE_OK ? rc : run_read_packets(run);
}

static void release(struct run *run)
{
    engine_close(&run->eng);
    input_close(&run->in);
    outputs_close(&run->out);
    metrics_close(run->metrics);
    extract_close(run->extractor);
    free(run->opt.filter);
}

/* Reads the whole input; rc of the reading, the output's errors after. */
static int run_analysis(struct run *run)
{
    int rc = run_read_packets(run);
    int end_rc = end_pipeline(run, g_flags.stop ? RECORD_END_STOPPED : RECORD_END_END_OF_INPUT);
    if (should_read_again(run, rc == SMTPSCOPE_OK ? end_rc : rc)) {
        rc = read_again_with_greeting_ports(run);
        end_rc = end_pipeline(run, g_flags.stop ? RECORD_END_STOPPED : RECORD_END_END_OF_INPUT);
    }
    if (end_rc != SMTPSCOPE_OK) {
        rc = end_rc; /* a worker failed: that outranks damaged input */
    }
    if (run->extractor != NULL) {
        run->input.has_extract = true;
        extract_counts(run->extractor, &run->input.n_extract_written,
                       &run->input.n_extract_failed);
    }
    publish_final_metrics(run);
    int out_rc = outputs_summary(&run->out, &run->input, run->err, sizeof(run->err));
    if (out_rc != SMTPSCOPE_OK) {
        return out_rc;
    }
    if (rc == SMTPSCOPE_OK && run->input.n_extract_failed > 0) {
        snprintf(run->err, sizeof(run->err),
                 "--extract: %llu of %llu messages could not be extracted (warnings above)",
                 (unsigned long long)run->input.n_extract_failed,
                 (unsigned long long)(run->input.n_extract_failed +
                                      run->input.n_extract_written));
        return SMTPSCOPE_ERR_EXTRACT;
    }
    return rc;
}

/* A --lang value: a language tag such as fr, tr, zh_CN, zh-CN or en. */
static bool valid_lang(const char *lang)
{
    size_t n = strlen(lang);
    if (n == 0 || n > 32) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = lang[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '@';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    /* --lang first, wherever it is: it decides the language of everything
     * printed after, usage errors included.  argv stays as given (the
     * report's chain of custody shows it); options_parse() and explain
     * skip the option. */
    const char *lang = i18n_find_lang_option(argc, argv);
    if (lang != NULL && !valid_lang(lang)) {
        fprintf(stderr, "smtpscope: --lang wants a language such as fr, tr, zh_CN or en\n");
        return 1;
    }
    if (!i18n_init(lang)) {
        fprintf(stderr, "smtpscope: no translation for %s; messages stay in English\n", lang);
    }
    int first = i18n_skip_lang_options(argc, argv, 1);
    if (first < argc && strcmp(argv[first], "explain") == 0) {
        return explain_main(argc - first, argv + first);
    }
    static struct run run;
    run.flags = &g_flags;
    int status = options_parse(argc, argv, &run.opt);
    if (status >= 0) {
        return status;
    }
    run.input.first_us = -1;
    run.input.last_us = -1;
    run.input.source = run.opt.read_path != NULL ? run.opt.read_path : run.opt.device;
    if (run.opt.list_devices) {
        int rc = capture_list_devices(stdout, run.err, sizeof(run.err));
        if (rc != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", run.err);
        }
        return exit_status(rc);
    }
    run.input.linktype_name = "?";
    if (run.opt.extract_dir != NULL && run.opt.workers != 1) {
        fprintf(stderr, _("smtpscope: --extract: reading with one process (--workers ignored)\n"));
    }
    if (run.opt.report_path != NULL) {
        /* Hash the input before libpcap reads it (a live capture has none). */
        report_meta_init(&run.meta, argc, argv, run.opt.read_paths, run.opt.n_read);
    }
    /* INT and TERM may cut a blocked read short (the run ends there);
     * USR1 and HUP must not: their system calls restart. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int rc = open_input(&run);
    if (rc == SMTPSCOPE_OK && run.opt.device != NULL && !run.opt.quiet) {
        /* What is captured, as tcpdump says it, before the first packet. */
        /* TRANSLATORS: as tcpdump says it; link-type is a libpcap name. */
        fprintf(stderr, _("smtpscope: listening on %s, link-type %s, snapshot length %d bytes, "
                          "filter: %s\n"),
                run.opt.device, capture_linktype_name(run.in.cap.linktype), CAPTURE_SNAPLEN,
                run.in.filter != NULL ? run.in.filter : _("(none)"));
    }
    if (rc == SMTPSCOPE_OK) {
        rc = open_outputs(&run);
    }
    if (rc == SMTPSCOPE_OK && run.opt.run_as != NULL) {
        rc = input_drop_privileges(run.opt.run_as, run.err, sizeof(run.err));
    }
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(&run);
        if (rc != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", run.err);
            return exit_status(rc); /* libnids cannot be shut down after a failed init */
        }
        rc = resume_metrics(&run);
        if (rc == SMTPSCOPE_OK) {
            rc = run_analysis(&run);
            linger_metrics(&run);
        }
    }
    if (rc != SMTPSCOPE_OK) {
        fprintf(stderr, "smtpscope: %s\n", run.err);
    }
    release(&run);
    return exit_status(rc);
}
