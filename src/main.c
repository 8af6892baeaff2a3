/*
 * main.c - command line, wiring of the pipeline, exit statuses.
 *
 * capture -> decode -> stream (libnids) -> session -> stats + writers.
 * This is the only file that maps SMTPSCOPE_ERR_* codes to exit statuses
 * (docs/smtpscope.1, EXIT STATUS) and the only one that prints errors.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "report.h"
#include "session.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "stream.h"
#include "writer.h"

#define PORTS_MAX 64

struct options {
    const char *read_path;
    const char *json_path;
    bool quiet;
    bool verify_checksums;
    int max_streams;
    long long idle_timeout_s;
    long order_window;
    uint16_t ports[PORTS_MAX];
    size_t n_ports;
    char *filter; /* BPF expression from the remaining arguments */
};

struct run {
    struct options opt;
    struct capture cap;
    struct session_table table;
    struct run_stats *stats;
    struct run_input input;
    struct writer json;
    struct writer text;
    bool has_json;
    bool has_text;
    FILE *json_file;
    char err[512];
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
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

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: smtpscope -r FILE [options] [BPF expression]\n"
            "Reads a pcap or pcapng capture (-r - for standard input), rebuilds every\n"
            "SMTP session on the SMTP ports, times each exchange and classifies how\n"
            "each session ended.\n\n"
            "Options:\n"
            "  -r FILE              capture file to read (pcap or pcapng; - = stdin)\n"
            "  --json PATH          write JSON Lines to PATH (- = standard output)\n"
            "  -q, --quiet          no human summary\n"
            "  --ports LIST         server ports to analyse (default 25,465,587)\n"
            "  --tls-ports LIST     implicit-TLS ports among them (default 465)\n"
            "  --verify-checksums   drop packets with bad TCP/IP checksums\n"
            "                       (off by default: offloaded captures have none)\n"
            "  --max-streams N      TCP stream table size (default %d)\n"
            "  --idle-timeout SEC   end sessions silent this long (default 300, 600 in\n"
            "                       DATA, RFC 5321 4.5.3.2; 0 = never)\n"
            "  --order-window N     finished records held to keep id order (default %d)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n\n"
            "Exit status: 0 ok, 1 usage, 2 cannot open input, 3 input damaged (sessions\n"
            "before the damage are still reported), 4 unsupported link type,\n"
            "5 cannot write output, 6 internal error.\n",
            STREAM_TABLE_DEFAULT, ORDER_WINDOW_DEFAULT);
}

static bool parse_ports(const char *list, uint16_t *out, size_t *n_out)
{
    char *copy = strdup(list);
    char *save = NULL;
    size_t n = 0;
    bool ok = copy != NULL;
    for (char *tok = ok ? strtok_r(copy, ",", &save) : NULL; ok && tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        long v = strtol(tok, &end, 10);
        ok = errno == 0 && *end == '\0' && v > 0 && v < 65536 && n < PORTS_MAX;
        if (ok) {
            out[n++] = (uint16_t)v;
        }
    }
    free(copy);
    *n_out = n;
    return ok && n > 0;
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++) {
        len += strlen(argv[i]) + 1;
    }
    char *s = calloc(1, len);
    for (int i = 0; s != NULL && i < argc; i++) {
        if (i > 0) {
            strcat(s, " ");
        }
        strcat(s, argv[i]);
    }
    return s;
}

static uint16_t g_tls_ports[PORTS_MAX] = {465};
static size_t g_n_tls_ports = 1;

enum { OPT_JSON = 256, OPT_PORTS, OPT_TLS_PORTS, OPT_VERIFY, OPT_MAX_STREAMS, OPT_IDLE, OPT_ORDER };

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"json", required_argument, NULL, OPT_JSON},
        {"ports", required_argument, NULL, OPT_PORTS},
        {"tls-ports", required_argument, NULL, OPT_TLS_PORTS},
        {"verify-checksums", no_argument, NULL, OPT_VERIFY},
        {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"order-window", required_argument, NULL, OPT_ORDER},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int c;
    memset(o, 0, sizeof(*o));
    o->max_streams = STREAM_TABLE_DEFAULT;
    o->idle_timeout_s = -1;
    o->order_window = ORDER_WINDOW_DEFAULT;
    o->ports[0] = 25;
    o->ports[1] = 465;
    o->ports[2] = 587;
    o->n_ports = 3;
    while ((c = getopt_long(argc, argv, "r:qhV", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->read_path = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("smtpscope %s\n", SMTPSCOPE_VERSION);
            return 0;
        case OPT_JSON:
            o->json_path = optarg;
            break;
        case OPT_PORTS:
            if (!parse_ports(optarg, o->ports, &o->n_ports)) {
                fprintf(stderr, "smtpscope: --ports wants a comma-separated list of ports\n");
                return 1;
            }
            break;
        case OPT_TLS_PORTS:
            if (!parse_ports(optarg, g_tls_ports, &g_n_tls_ports)) {
                fprintf(stderr, "smtpscope: --tls-ports wants a comma-separated list of ports\n");
                return 1;
            }
            break;
        case OPT_VERIFY:
            o->verify_checksums = true;
            break;
        case OPT_MAX_STREAMS:
            if (!parse_long(optarg, 16, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, "smtpscope: --max-streams wants 16..%d\n", STREAM_TABLE_MAX);
                return 1;
            }
            o->max_streams = (int)v;
            break;
        case OPT_IDLE:
            if (!parse_long(optarg, 0, 86400LL * 365, &v)) {
                fprintf(stderr, "smtpscope: --idle-timeout wants seconds (0 = never)\n");
                return 1;
            }
            o->idle_timeout_s = v;
            break;
        case OPT_ORDER:
            if (!parse_long(optarg, 0, 1 << 24, &v)) {
                fprintf(stderr, "smtpscope: --order-window wants 0..%d\n", 1 << 24);
                return 1;
            }
            o->order_window = (long)v;
            break;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (o->read_path == NULL) {
        fprintf(stderr, "smtpscope: no input: give -r FILE (see --help)\n");
        return 1;
    }
    if (optind < argc) {
        o->filter = join_args(argc - optind, argv + optind);
    }
    return -1;
}

/* ---- the sink: every finished record goes to stats and writers -------- */

static void emit_record(void *ctx, const struct session_record *r)
{
    struct run *run = ctx;
    stats_add(run->stats, r);
    if (run->has_json) {
        run->json.session(&run->json, r);
    }
    if (run->has_text) {
        run->text.session(&run->text, r);
    }
}

/* ---- the packet loop ------------------------------------------------------- */

static bool port_selected(const struct options *o, uint16_t port)
{
    for (size_t i = 0; i < o->n_ports; i++) {
        if (o->ports[i] == port) {
            return true;
        }
    }
    return false;
}

static void handle_packet(struct run *run, const struct capture_packet *pkt)
{
    struct run_input *in = &run->input;
    struct decoded d;
    in->n_packets++;
    in->n_bytes += pkt->caplen;
    if (in->first_us < 0) {
        in->first_us = pkt->ts_us;
    }
    if (pkt->ts_us > in->last_us) {
        in->last_us = pkt->ts_us;
    }
    enum decode_result r = decode_frame(run->cap.linktype, pkt->data, pkt->caplen, &d);
    if (r == DECODE_IPV6) {
        if (!port_selected(&run->opt, d.sport) && !port_selected(&run->opt, d.dport)) {
            in->n_other_ports++;
            return;
        }
        in->by_decode[r]++;
        stream_feed_ipv6(d.ip, d.l4, d.l4_len, pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us);
        return;
    }
    if (r != DECODE_IPV4) {
        in->by_decode[r]++;
        return;
    }
    if (d.ip_proto != 6) {
        in->n_not_tcp++;
        return;
    }
    if (d.is_fragment) {
        in->n_fragments++;
    } else if (!d.has_ports) {
        in->by_decode[DECODE_MALFORMED]++;
        return;
    } else if (!port_selected(&run->opt, d.sport) && !port_selected(&run->opt, d.dport)) {
        in->n_other_ports++;
        return;
    }
    in->by_decode[DECODE_IPV4]++;
    /* Packets with times going backwards keep the clock where it was. */
    int64_t now = pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us;
    stream_feed_ipv4(d.ip, d.ip_len, now);
}

static int read_packets(struct run *run)
{
    struct capture_packet pkt;
    int rc;
    while (!g_stop && (rc = capture_next(&run->cap, &pkt, run->err, sizeof(run->err))) == 1) {
        handle_packet(run, &pkt);
    }
    if (g_stop) {
        return SMTPSCOPE_OK;
    }
    if (rc < 0) {
        run->input.error = run->err;
        return rc;
    }
    return SMTPSCOPE_OK;
}

/* ---- set-up and tear-down ------------------------------------------------ */

static int open_outputs(struct run *run)
{
    FILE *summary_to = stdout;
    if (run->opt.json_path != NULL) {
        if (strcmp(run->opt.json_path, "-") == 0) {
            run->json_file = stdout;
            summary_to = stderr;
        } else {
            run->json_file = fopen(run->opt.json_path, "w");
            if (run->json_file == NULL) {
                snprintf(run->err, sizeof(run->err), "%s: %s", run->opt.json_path, strerror(errno));
                return SMTPSCOPE_ERR_OUTPUT;
            }
        }
        writer_jsonl_init(&run->json, run->json_file);
        run->has_json = true;
    }
    if (!run->opt.quiet) {
        writer_text_init(&run->text, summary_to);
        run->has_text = true;
    }
    return SMTPSCOPE_OK;
}

static int open_input(struct run *run)
{
    int rc = capture_open_offline(&run->cap, run->opt.read_path, run->err, sizeof(run->err));
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    if (!decode_linktype_supported(run->cap.linktype)) {
        snprintf(run->err, sizeof(run->err), "%s: link type %s (%d) is not supported",
                 run->opt.read_path, capture_linktype_name(run->cap.linktype), run->cap.linktype);
        return SMTPSCOPE_ERR_LINKTYPE;
    }
    run->input.source = run->opt.read_path;
    run->input.linktype_name = capture_linktype_name(run->cap.linktype);
    if (run->opt.filter != NULL) {
        return capture_set_filter(&run->cap, run->opt.filter, run->err, sizeof(run->err));
    }
    return SMTPSCOPE_OK;
}

static int start_pipeline(struct run *run)
{
    struct session_config scfg = {
        .implicit_tls_ports = g_tls_ports,
        .n_implicit_tls_ports = g_n_tls_ports,
        .idle_timeout_us = run->opt.idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_US
                                                       : run->opt.idle_timeout_s * 1000000,
        .idle_timeout_data_us = run->opt.idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_DATA_US
                                                            : run->opt.idle_timeout_s * 1000000,
        .order_window = (size_t)run->opt.order_window,
        .glue_size = 64,
    };
    struct session_sink sink = {emit_record, run};
    if (!session_table_init(&run->table, &scfg, sink)) {
        snprintf(run->err, sizeof(run->err), "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    struct stream_config cfg = {
        .max_streams = run->opt.max_streams,
        .verify_checksums = run->opt.verify_checksums,
        .ports = run->opt.ports,
        .n_ports = run->opt.n_ports,
    };
    return stream_init(&cfg, &run->table, run->err, sizeof(run->err));
}

static void gather_coverage(struct run *run)
{
    struct stream_stats ss;
    stream_get_stats(&ss);
    struct run_input *in = &run->input;
    in->n_established = ss.n_established;
    in->n_midstream = ss.n_midstream;
    in->n_ipv6_too_big = ss.n_ipv6_too_big;
    in->n_unattached_packets = ss.n_unattached_packets;
    in->n_unattached_flows = ss.n_unattached_flows;
    in->n_evicted = ss.n_evicted;
    in->n_idle = ss.n_idle;
    in->n_port_reused = ss.n_port_reused;
    in->n_open_at_end = ss.n_open_at_end;
    in->n_session_failed = ss.n_session_failed + run->table.stats.n_alloc_failed;
    in->n_out_of_order = run->table.stats.n_out_of_order;
    in->n_tcp_header_invalid = ss.warnings[7] + ss.warnings[4];
    in->n_queue_pruned = ss.warnings[8];
    in->n_ip_warnings = ss.warnings[1] + ss.warnings[2] + ss.warnings[3] + ss.warnings[5];
}

static int finish(struct run *run, int rc)
{
    enum record_end reason = g_stop ? RECORD_END_STOPPED : RECORD_END_END_OF_INPUT;
    stream_finish(reason, run->input.last_us);
    session_table_flush(&run->table);
    gather_coverage(run);
    struct run_report rep = {run->stats, &run->input};
    if (run->has_json) {
        run->json.summary(&run->json, &rep);
        if (fflush(run->json_file) != 0 || run->json.failed) {
            snprintf(run->err, sizeof(run->err), "writing JSON: %s", strerror(errno));
            rc = SMTPSCOPE_ERR_OUTPUT;
        }
    }
    if (run->has_text) {
        run->text.summary(&run->text, &rep);
        fflush(run->text.out);
    }
    return rc;
}

static void release(struct run *run)
{
    session_table_free(&run->table);
    capture_close(&run->cap);
    if (run->has_json) {
        writer_free(&run->json);
        if (run->json_file != stdout) {
            fclose(run->json_file);
        }
    }
    if (run->has_text) {
        writer_free(&run->text);
    }
    free(run->stats);
    free(run->opt.filter);
}

int main(int argc, char **argv)
{
    static struct run run;
    int status = parse_options(argc, argv, &run.opt);
    if (status >= 0) {
        return status;
    }
    run.input.first_us = -1;
    run.input.last_us = -1;
    run.input.source = run.opt.read_path;
    run.input.linktype_name = "?";
    run.stats = malloc(sizeof(*run.stats));
    if (run.stats == NULL) {
        fprintf(stderr, "smtpscope: out of memory\n");
        return exit_status(SMTPSCOPE_ERR_INTERNAL);
    }
    stats_init(run.stats);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int rc = open_input(&run);
    if (rc == SMTPSCOPE_OK) {
        rc = open_outputs(&run);
    }
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(&run);
        if (rc != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", run.err);
            return exit_status(rc); /* libnids cannot be shut down after a failed init */
        }
        rc = read_packets(&run);
        rc = finish(&run, rc);
    }
    if (rc != SMTPSCOPE_OK) {
        fprintf(stderr, "smtpscope: %s\n", run.err);
    }
    release(&run);
    return exit_status(rc);
}
