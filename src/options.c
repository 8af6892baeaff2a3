/*
 * options.c - parsing and checking the command line (options.h).
 *
 * Every option's range is checked here, with a message naming the option,
 * so that later stages can trust the values.
 *
 * SPDX-License-Identifier: MIT
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "metrics.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "stream_nids.h"

static void usage(FILE *f)
{
    /* TRANSLATORS: keep the command and option names, the four %d (in this
     * order) and the layout: descriptions start in column 24 and no line
     * is wider than 80 columns (a CJK character takes two). */
    fprintf(f,
            _("Usage: smtpscope -r FILE [options] [BPF expression]\n"
            "       smtpscope -i INTERFACE [options] [BPF expression]\n"
            "       smtpscope explain CODE|LABEL ...\n"
            "Reads a pcap or pcapng capture (-r - for standard input) or a live\n"
            "interface, rebuilds every SMTP session on the SMTP ports, times each\n"
            "exchange and classifies how each session ended.\n\n"
            "Options:\n"
            "  -r FILE              capture file to read (pcap or pcapng; - = stdin);\n"
            "                       repeat to read several files merged by time\n"
            "  -i INTERFACE         capture live (any = all interfaces); needs\n"
            "                       CAP_NET_RAW (root, or setcap cap_net_raw,cap_net_admin)\n"
            "  -D                   list interfaces\n"
            "  -p                   no promiscuous mode\n"
            "  -B MIB               kernel capture buffer size (default 32, per worker)\n"
            "  -Z USER              become USER once the interface is open\n"
            "  -c COUNT             write exactly COUNT sessions (fewer if the input\n"
            "                       has fewer), then stop\n"
            "  --duration SEC       stop after SEC seconds of capture\n"
            "  --stats SEC          print a stats line on stderr every SEC seconds\n"
            "                       (and on SIGUSR1); SIGHUP reopens the --json file\n"
            "  --json PATH          write JSON Lines to PATH (- = standard output)\n"
            "  --community-id-seed N  seed of each session's Community ID (default 0)\n"
            "  --json-format FORM   nested (default) or flat: one level of keys, arrays\n"
            "                       of objects as arrays per member, no summary line\n"
            "                       (for ClickHouse's JSONEachRow, docs/clickhouse.sql)\n"
            "  --sensor NAME        this sensor's name in every record and in each\n"
            "                       session's uid (default: the host name)\n"
            "  --report FILE.html   write a self-contained HTML report to FILE.html\n"
            "                       (- = standard output; the summary then goes to stderr)\n"
            "  --extract DIR        write every message sent in clear as DIR/*.eml with\n"
            "                       a JSON sidecar (envelope, replies, MIME summary)\n"
            "  -q, --quiet          no human summary (nor, live, the listening line)\n"
            "  --no-progress        no progress line (drawn on stderr when it is a\n"
            "                       terminal and a file read takes over a second)\n"
            "  --ports LIST         server ports to analyse (default 25,465,587)\n"
            "  --tls-ports LIST     implicit-TLS ports among them (default 465)\n"
            "  --verify-checksums   drop packets with bad TCP/IP checksums\n"
            "                       (off by default: offloaded captures have none)\n"
            "  --max-streams N      TCP stream table size (default %d)\n"
            "  --free-buffers-above N\n"
            "                       with more than N sessions open, free each\n"
            "                       stream's reassembly buffer once parsed instead\n"
            "                       of keeping it (default %d; 0 = always)\n"
            "  --prefetch-above N   with more than N sessions open, read the file\n"
            "                       ahead and prefetch each packet's stream state\n"
            "                       (default %d; speed only, results the same)\n"
            "  --read-threads N     threads reading capture files ahead while they\n"
            "                       are parsed (default 1, 0 with one CPU; 0 = read\n"
            "                       in the main thread; speed only, results the same)\n"
            "  --idle-timeout SEC   end sessions silent this long (default 300, 600 in\n"
            "                       DATA, RFC 5321 4.5.3.2; 0 = never)\n"
            "  --reorder-window MS[,PACKETS]  how long (packet time, default 250) and for\n"
            "                       how many of its packets (default 1024) a side waits\n"
            "                       for bytes the capture recorded late or lost\n"
            "  --workers N|auto     processes analysing packets, each its own share of\n"
            "                       the connections (default 1; auto = one per CPU);\n"
            "                       the output is the same whatever N\n"
            "  --order-window N     finished records held to keep id order (default %d;\n"
            "                       live capture writes each record as it ends)\n"
            "  --lang LANG          language of this help, the summary, the report\n"
            "                       and explain (fr, tr, zh_CN, en; default from\n"
            "                       LANGUAGE, LC_ALL, LC_MESSAGES, LANG); the JSON\n"
            "                       never changes\n"
            "  --metrics [ADDR:]PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
            "                       while reading (PORT alone: every address; ADDR is\n"
            "                       numeric, IPv6 in brackets; see docs/metrics.md)\n"
            "  --metrics-linger SEC keep serving them SEC seconds after the input ends\n"
            "                       (SIGINT or SIGTERM ends the wait)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n\n"
            "Exit status: 0 ok, 1 usage, 2 cannot open input, 3 input damaged (sessions\n"
            "before the damage are still reported), 4 unsupported link type,\n"
            "5 cannot write output, 6 internal error, 7 some messages could not be\n"
            "extracted (--extract).\n"),
            STREAM_TABLE_DEFAULT, STREAM_FREE_BUFFERS_ABOVE_DEFAULT, PREFETCH_ABOVE_DEFAULT,
            ORDER_WINDOW_DEFAULT);
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
        ok = errno == 0 && *end == '\0' && v > 0 && v < 65536 && n < PIPELINE_PORTS_MAX;
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

/*
 * Options that would do nothing in the chosen mode are refused, with the
 * reason, rather than ignored: a user who gives --duration to a file read
 * believes something is limited.  Returns false after saying why.
 */
static bool check_mode(const struct options *o, bool prefetch_given, bool cid_given)
{
    static const char *const why_live = N_("is for live capture (-i); a file is read whole");
    const char *bad = NULL;
    const char *why = NULL;
    if (o->device == NULL) {
        why = why_live;
        bad = o->no_promisc          ? "-p"
              : o->buffer_mib > 0    ? "-B"
              : o->duration_s > 0    ? "--duration"
              : o->stats_every_s > 0 ? "--stats"
                                     : NULL;
    } else {
        why = N_("is for capture files (-r); a live capture is read as packets arrive");
        bad = o->read_threads >= 0 ? "--read-threads" : prefetch_given ? "--prefetch-above" : NULL;
    }
    if (bad == NULL && o->json_flat && o->json_path == NULL) {
        bad = "--json-format";
        why = N_("only changes the form of --json's records; add --json PATH");
    }
    if (bad == NULL && cid_given && o->json_path == NULL) {
        bad = "--community-id-seed";
        why = N_("only changes the JSON records' community_id; add --json PATH");
    }
    if (bad == NULL && o->quiet && o->json_path == NULL && o->report_path == NULL &&
        o->extract_dir == NULL && o->metrics_listen == NULL) {
        bad = "-q";
        why = N_("without --json, --report, --extract or --metrics would leave nothing to show");
    }
    if (bad == NULL) {
        return true;
    }
    /* TRANSLATORS: an option, then why it is refused (a message below). */
    fprintf(stderr, _("smtpscope: %s %s\n"), bad, _(why));
    return false;
}

enum {
    OPT_JSON = 256,
    OPT_LANG,
    OPT_REPORT,
    OPT_EXTRACT,
    OPT_PORTS,
    OPT_TLS_PORTS,
    OPT_VERIFY,
    OPT_MAX_STREAMS,
    OPT_FREE_BUFFERS,
    OPT_PREFETCH,
    OPT_READ_THREADS,
    OPT_IDLE,
    OPT_REORDER,
    OPT_ORDER,
    OPT_DURATION,
    OPT_STATS,
    OPT_WORKERS,
    OPT_CID_SEED,
    OPT_SENSOR,
    OPT_JSON_FORMAT,
    OPT_NO_PROGRESS,
    OPT_METRICS,
    OPT_METRICS_LINGER
};

int options_parse(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"json", required_argument, NULL, OPT_JSON},
        {"report", required_argument, NULL, OPT_REPORT},
        {"extract", required_argument, NULL, OPT_EXTRACT},
        {"ports", required_argument, NULL, OPT_PORTS},
        {"tls-ports", required_argument, NULL, OPT_TLS_PORTS},
        {"verify-checksums", no_argument, NULL, OPT_VERIFY},
        {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
        {"free-buffers-above", required_argument, NULL, OPT_FREE_BUFFERS},
        {"prefetch-above", required_argument, NULL, OPT_PREFETCH},
        {"read-threads", required_argument, NULL, OPT_READ_THREADS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"reorder-window", required_argument, NULL, OPT_REORDER},
        {"order-window", required_argument, NULL, OPT_ORDER},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"stats", required_argument, NULL, OPT_STATS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"community-id-seed", required_argument, NULL, OPT_CID_SEED},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"sensor", required_argument, NULL, OPT_SENSOR},
        {"json-format", required_argument, NULL, OPT_JSON_FORMAT},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"metrics-linger", required_argument, NULL, OPT_METRICS_LINGER},
        {"quiet", no_argument, NULL, 'q'},
        {"lang", required_argument, NULL, OPT_LANG}, /* read by main() */
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int c;
    bool prefetch_given = false;
    bool cid_given = false;
    memset(o, 0, sizeof(*o));
    o->max_streams = STREAM_TABLE_DEFAULT;
    o->free_buffers_above = STREAM_FREE_BUFFERS_ABOVE_DEFAULT;
    o->prefetch_above = PREFETCH_ABOVE_DEFAULT;
    o->read_threads = -1;
    o->idle_timeout_s = -1;
    o->reorder_window_ms = REORDER_WINDOW_MS_DEFAULT;
    o->reorder_packets = REORDER_PACKETS_DEFAULT;
    o->order_window = -1;
    o->ports[0] = 25;
    o->ports[1] = 465;
    o->ports[2] = 587;
    o->n_ports = 3;
    o->tls_ports[0] = 465;
    o->n_tls_ports = 1;
    o->workers = 1;
    while ((c = getopt_long(argc, argv, "r:i:DpB:Z:c:qhV", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->n_read == CAPTURE_FILES_MAX) {
                fprintf(stderr, _("smtpscope: at most %d -r files\n"), CAPTURE_FILES_MAX);
                return 1;
            }
            o->read_paths[o->n_read++] = optarg;
            o->read_path = o->read_paths[0];
            break;
        case 'i':
            o->device = optarg;
            break;
        case 'D':
            o->list_devices = true;
            break;
        case 'p':
            o->no_promisc = true;
            break;
        case 'Z':
            o->run_as = optarg;
            break;
        case 'B':
            if (!parse_long(optarg, 1, 2047, &v)) {
                fprintf(stderr, _("smtpscope: -B wants a buffer size in MiB (1..2047)\n"));
                return 1;
            }
            o->buffer_mib = (int)v;
            break;
        case 'c':
            if (!parse_long(optarg, 1, LLONG_MAX, &v)) {
                fprintf(stderr, _("smtpscope: -c wants a positive session count\n"));
                return 1;
            }
            o->max_sessions = v;
            break;
        case OPT_DURATION:
            if (!parse_long(optarg, 1, 86400LL * 3650, &v)) {
                fprintf(stderr, _("smtpscope: --duration wants seconds\n"));
                return 1;
            }
            o->duration_s = v;
            break;
        case OPT_STATS:
            if (!parse_long(optarg, 1, 86400, &v)) {
                fprintf(stderr, _("smtpscope: --stats wants seconds\n"));
                return 1;
            }
            o->stats_every_s = v;
            break;
        case 'q':
            o->quiet = true;
            break;
        case OPT_NO_PROGRESS:
            o->no_progress = true;
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
        case OPT_REPORT:
            o->report_path = optarg;
            break;
        case OPT_EXTRACT:
            o->extract_dir = optarg;
            break;
        case OPT_PORTS:
            o->ports_given = true;
            if (!parse_ports(optarg, o->ports, &o->n_ports)) {
                fprintf(stderr, _("smtpscope: --ports wants a comma-separated list of ports\n"));
                return 1;
            }
            break;
        case OPT_TLS_PORTS:
            if (!parse_ports(optarg, o->tls_ports, &o->n_tls_ports)) {
                fprintf(stderr, _("smtpscope: --tls-ports wants a comma-separated list of ports\n"));
                return 1;
            }
            break;
        case OPT_VERIFY:
            o->verify_checksums = true;
            break;
        case OPT_MAX_STREAMS:
            if (!parse_long(optarg, 16, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, _("smtpscope: --max-streams wants 16..%d\n"), STREAM_TABLE_MAX);
                return 1;
            }
            o->max_streams = (int)v;
            break;
        case OPT_FREE_BUFFERS:
            if (!parse_long(optarg, 0, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, _("smtpscope: --free-buffers-above wants 0..%d open sessions\n"),
                        STREAM_TABLE_MAX);
                return 1;
            }
            o->free_buffers_above = v;
            break;
        case OPT_PREFETCH:
            if (!parse_long(optarg, 0, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, _("smtpscope: --prefetch-above wants 0..%d open sessions\n"),
                        STREAM_TABLE_MAX);
                return 1;
            }
            o->prefetch_above = v;
            prefetch_given = true;
            break;
        case OPT_READ_THREADS:
            if (!parse_long(optarg, 0, READ_THREADS_MAX, &v)) {
                fprintf(stderr, _("smtpscope: --read-threads wants 0..%d\n"), READ_THREADS_MAX);
                return 1;
            }
            o->read_threads = v;
            break;
        case OPT_IDLE:
            if (!parse_long(optarg, 0, 86400LL * 365, &v)) {
                fprintf(stderr, _("smtpscope: --idle-timeout wants seconds (0 = never)\n"));
                return 1;
            }
            o->idle_timeout_s = v;
            break;
        case OPT_REORDER: {
            /* MS or MS,PACKETS */
            char ms[32];
            const char *comma = strchr(optarg, ',');
            size_t n = comma != NULL ? (size_t)(comma - optarg) : strlen(optarg);
            long long packets = o->reorder_packets;
            if (n >= sizeof(ms) ||
                (memcpy(ms, optarg, n), ms[n] = '\0', !parse_long(ms, 0, 600000, &v)) ||
                (comma != NULL && !parse_long(comma + 1, 1, 1000000, &packets))) {
                fprintf(stderr, _("smtpscope: --reorder-window wants MS[,PACKETS]: 0..600000 "
                                "milliseconds, 1..1000000 packets\n"));
                return 1;
            }
            o->reorder_window_ms = v;
            o->reorder_packets = packets;
            break;
        }
        case OPT_CID_SEED:
            if (!parse_long(optarg, 0, 65535, &v)) {
                fprintf(stderr, _("smtpscope: --community-id-seed wants 0..65535\n"));
                return 1;
            }
            o->community_id_seed = v;
            cid_given = true;
            break;
        case OPT_JSON_FORMAT:
            if (strcmp(optarg, "nested") != 0 && strcmp(optarg, "flat") != 0) {
                fprintf(stderr, _("smtpscope: --json-format wants nested or flat\n"));
                return 1;
            }
            o->json_flat = strcmp(optarg, "flat") == 0;
            break;
        case OPT_SENSOR:
            if (optarg[0] == '\0' || strlen(optarg) > SMTP_NAME_KEEP) {
                fprintf(stderr, _("smtpscope: --sensor wants a name of 1..%d bytes\n"),
                        SMTP_NAME_KEEP);
                return 1;
            }
            o->sensor = optarg;
            break;
        case OPT_METRICS: {
            struct sockaddr_storage ss;
            socklen_t len;
            if (!metrics_parse_listen(optarg, &ss, &len)) {
                fprintf(stderr, _("smtpscope: --metrics wants [ADDR:]PORT: a port (0..65535), "
                                "after a numeric IPv4 address or an IPv6 one in brackets\n"));
                return 1;
            }
            o->metrics_listen = optarg;
            break;
        }
        case OPT_METRICS_LINGER:
            if (!parse_long(optarg, 0, METRICS_LINGER_MAX_S, &v)) {
                fprintf(stderr, _("smtpscope: --metrics-linger wants 0..%d seconds\n"),
                        METRICS_LINGER_MAX_S);
                return 1;
            }
            o->metrics_linger_s = v;
            break;
        case OPT_WORKERS:
            if (strcmp(optarg, "auto") == 0) {
                o->workers = 0;
            } else if (!parse_long(optarg, 1, WORKERS_MAX, &v)) {
                fprintf(stderr, _("smtpscope: --workers wants 1..%d or auto\n"), WORKERS_MAX);
                return 1;
            } else {
                o->workers = v;
            }
            break;
        case OPT_ORDER:
            if (!parse_long(optarg, 0, 1 << 24, &v)) {
                fprintf(stderr, _("smtpscope: --order-window wants 0..%d\n"), 1 << 24);
                return 1;
            }
            o->order_window = (long)v;
            break;
        case OPT_LANG:
            break; /* i18n_init() already has it */
        default:
            /* getopt has said what was wrong, on one line. */
            fprintf(stderr, _("Try 'smtpscope --help' for the options.\n"));
            return 1;
        }
    }
    if (o->list_devices) {
        return -1;
    }
    if ((o->read_path == NULL) == (o->device == NULL)) {
        fprintf(stderr, _("smtpscope: give one input: -r FILE or -i INTERFACE (see --help)\n"));
        return 1;
    }
    if (!check_mode(o, prefetch_given, cid_given)) {
        return 1;
    }
    if (o->json_path != NULL && o->report_path != NULL && strcmp(o->json_path, "-") == 0 &&
        strcmp(o->report_path, "-") == 0) {
        fprintf(stderr, _("smtpscope: --json - and --report - cannot both write to standard "
                        "output\n"));
        return 1;
    }
    if (o->metrics_linger_s > 0 && o->metrics_listen == NULL) {
        fprintf(stderr, _("smtpscope: --metrics-linger needs --metrics\n"));
        return 1;
    }
    if (o->order_window < 0) {
        /* Live output is written as sessions end; files keep id order. */
        o->order_window = o->device != NULL ? 0 : ORDER_WINDOW_DEFAULT;
    }
    if (optind < argc) {
        o->filter = join_args(argc - optind, argv + optind);
    }
    return -1;
}

void options_pipeline_config(const struct options *o, struct pipeline_config *cfg,
                             struct session_sink sink)
{
    *cfg = (struct pipeline_config){
        .ports = o->ports,
        .n_ports = o->n_ports,
        .discover_ports = !o->ports_given,
        .tls_ports = o->tls_ports,
        .n_tls_ports = o->n_tls_ports,
        .idle_timeout_us = o->idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_US
                                                 : o->idle_timeout_s * 1000000,
        .idle_timeout_data_us = o->idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_DATA_US
                                                      : o->idle_timeout_s * 1000000,
        .order_window = (size_t)o->order_window,
        .max_streams = o->max_streams,
        .free_buffers_above = (uint64_t)o->free_buffers_above,
        .prefetch_above = (uint64_t)o->prefetch_above,
        .verify_checksums = o->verify_checksums,
        .reorder_window_us = o->reorder_window_ms * 1000,
        .reorder_packets = (uint32_t)o->reorder_packets,
        .sink = sink,
    };
}
