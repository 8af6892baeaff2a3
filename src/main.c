/*
 * main.c - command line, wiring of the pipeline, exit statuses.
 *
 * capture -> decode -> stream (libnids) -> session -> stats + writers.
 * This is the only file that maps SMTPSCOPE_ERR_* codes to exit statuses
 * (docs/smtpscope.1, EXIT STATUS) and the only one that prints errors.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "capture.h"
#include "decode.h"
#include "explain.h"
#include "extract.h"
#include "report.h"
#include "session.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "stream.h"
#include "writer.h"
#include "report_meta.h"

#define PORTS_MAX 64
/* Where each server on a port we do not analyse starts its byte stream:
 * (hash of the 4-tuple, ISN + 1) from SYN/ACKs, direct-mapped. */
#define FIRST_SEQ_SLOTS 1024

struct options {
    const char *read_path;    /* the first -r */
    const char *read_paths[CAPTURE_FILES_MAX];
    size_t n_read;
    const char *device;       /* -i: live capture */
    const char *run_as;       /* -Z: user to become after opening */
    bool list_devices;
    bool no_promisc;
    int buffer_mib;
    long long max_sessions;   /* -c: stop after this many sessions */
    long long duration_s;     /* --duration: stop after this long */
    long long stats_every_s;  /* --stats: a line on stderr this often */
    const char *json_path;
    const char *report_path;
    const char *extract_dir;
    bool quiet;
    bool verify_checksums;
    int max_streams;
    long long free_buffers_above;
    long long prefetch_above;
    long long read_threads; /* -1: READ_THREADS_DEFAULT with a second CPU, else 0 */
    long long idle_timeout_s;
    long long reorder_window_ms;
    long long reorder_packets;
    long order_window;
    uint16_t ports[PORTS_MAX];
    size_t n_ports;
    bool ports_given;         /* --ports: no looking at other ports */
    char *filter; /* BPF expression from the remaining arguments */
};

struct run {
    struct options opt;
    struct capture cap;          /* live capture */
    struct capture_set *files;   /* offline: every -r file, merged by time */
    struct session_table table;
    struct run_stats *stats;
    struct run_input input;
    struct writer json;
    struct writer text;
    struct writer html;
    bool has_html;
    FILE *html_file;
    struct report_meta meta;
    struct extractor *extractor;
    bool has_json;
    bool has_text;
    FILE *json_file;
    char err[512];
    char source_text[320]; /* "a.pcap and N more files" */
    uint16_t greeting_ports[8]; /* other ports whose server sent "220 " */
    size_t n_greeting_ports;
    uint64_t port_bits[65536 / 64]; /* opt.ports as a set: one test per packet */
    struct first_seq {
        uint32_t key;
        uint32_t seq;
    } first_seq[FIRST_SEQ_SLOTS];
};

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_stats_now;
static volatile sig_atomic_t g_reopen;

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_stats_now = 1;
    } else if (sig == SIGHUP) {
        g_reopen = 1;
    } else {
        g_stop = 1;
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

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: smtpscope -r FILE [options] [BPF expression]\n"
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
            "  -B MIB               kernel capture buffer size\n"
            "  -Z USER              become USER once the interface is open\n"
            "  -c COUNT             stop after COUNT sessions\n"
            "  --duration SEC       stop after SEC seconds of capture\n"
            "  --stats SEC          print a stats line on stderr every SEC seconds\n"
            "                       (and on SIGUSR1); SIGHUP reopens the --json file\n"
            "  --json PATH          write JSON Lines to PATH (- = standard output)\n"
            "  --report FILE.html   write a self-contained HTML report to FILE.html\n"
            "  --extract DIR        write every message sent in clear as DIR/*.eml with\n"
            "                       a JSON sidecar (envelope, replies, MIME summary)\n"
            "  -q, --quiet          no human summary\n"
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
            "  --order-window N     finished records held to keep id order (default %d;\n"
            "                       live capture writes each record as it ends)\n"
            "  -h, --help           this text\n"
            "  -V, --version        version\n\n"
            "Exit status: 0 ok, 1 usage, 2 cannot open input, 3 input damaged (sessions\n"
            "before the damage are still reported), 4 unsupported link type,\n"
            "5 cannot write output, 6 internal error.\n",
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

enum {
    OPT_JSON = 256,
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
    OPT_STATS
};

/* Returns -1 to go on, or an exit status. */
static int parse_options(int argc, char **argv, struct options *o)
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
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long long v;
    int c;
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
    while ((c = getopt_long(argc, argv, "r:i:DpB:Z:c:qhV", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->n_read == CAPTURE_FILES_MAX) {
                fprintf(stderr, "smtpscope: at most %d -r files\n", CAPTURE_FILES_MAX);
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
                fprintf(stderr, "smtpscope: -B wants a buffer size in MiB (1..2047)\n");
                return 1;
            }
            o->buffer_mib = (int)v;
            break;
        case 'c':
            if (!parse_long(optarg, 1, LLONG_MAX, &v)) {
                fprintf(stderr, "smtpscope: -c wants a positive session count\n");
                return 1;
            }
            o->max_sessions = v;
            break;
        case OPT_DURATION:
            if (!parse_long(optarg, 1, 86400LL * 3650, &v)) {
                fprintf(stderr, "smtpscope: --duration wants seconds\n");
                return 1;
            }
            o->duration_s = v;
            break;
        case OPT_STATS:
            if (!parse_long(optarg, 1, 86400, &v)) {
                fprintf(stderr, "smtpscope: --stats wants seconds\n");
                return 1;
            }
            o->stats_every_s = v;
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
        case OPT_REPORT:
            o->report_path = optarg;
            break;
        case OPT_EXTRACT:
            o->extract_dir = optarg;
            break;
        case OPT_PORTS:
            o->ports_given = true;
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
        case OPT_FREE_BUFFERS:
            if (!parse_long(optarg, 0, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, "smtpscope: --free-buffers-above wants 0..%d open sessions\n",
                        STREAM_TABLE_MAX);
                return 1;
            }
            o->free_buffers_above = v;
            break;
        case OPT_PREFETCH:
            if (!parse_long(optarg, 0, STREAM_TABLE_MAX, &v)) {
                fprintf(stderr, "smtpscope: --prefetch-above wants 0..%d open sessions\n",
                        STREAM_TABLE_MAX);
                return 1;
            }
            o->prefetch_above = v;
            break;
        case OPT_READ_THREADS:
            if (!parse_long(optarg, 0, READ_THREADS_MAX, &v)) {
                fprintf(stderr, "smtpscope: --read-threads wants 0..%d\n", READ_THREADS_MAX);
                return 1;
            }
            o->read_threads = v;
            break;
        case OPT_IDLE:
            if (!parse_long(optarg, 0, 86400LL * 365, &v)) {
                fprintf(stderr, "smtpscope: --idle-timeout wants seconds (0 = never)\n");
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
                fprintf(stderr, "smtpscope: --reorder-window wants MS[,PACKETS]: 0..600000 "
                                "milliseconds, 1..1000000 packets\n");
                return 1;
            }
            o->reorder_window_ms = v;
            o->reorder_packets = packets;
            break;
        }
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
    if (o->list_devices) {
        return -1;
    }
    if ((o->read_path == NULL) == (o->device == NULL)) {
        fprintf(stderr, "smtpscope: give one input: -r FILE or -i INTERFACE (see --help)\n");
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
    if (run->has_html) {
        run->html.session(&run->html, r);
    }
}

/* ---- --extract: the session's content sink, handed to the extractor ---- */

static void *extract_sink_begin(void *ctx, const struct session_record *r, uint32_t msg_no,
                                int64_t start_us)
{
    return extract_begin(ctx, r, msg_no, start_us);
}

static void extract_sink_data(void *msg, const uint8_t *p, size_t n, bool is_bdat)
{
    extract_data(msg, p, n, is_bdat);
}

static struct span text_span(const char *s)
{
    return s != NULL ? span_make(s, strlen(s)) : span_make("", 0);
}

static void extract_sink_end(void *ctx, void *msg, const struct session_record *r,
                             const struct record_exchange *reply, int64_t end_us,
                             struct session_message_info *info)
{
    struct extract_summary sum;
    memset(&sum, 0, sizeof(sum));
    extract_end(ctx, msg, r, reply, end_us, &sum);
    info->file = text_span(sum.file);
    info->sha256 = text_span(sum.sha256);
    info->size = sum.size;
    info->from = text_span(sum.from);
    info->to = text_span(sum.to);
    info->cc = text_span(sum.cc);
    info->subject = text_span(sum.subject);
    info->date = text_span(sum.date);
    info->message_id = text_span(sum.message_id);
    for (uint32_t i = 0; i < sum.n_attachments && i < SESSION_INFO_ATTACHMENTS; i++) {
        info->attachments[i].filename = text_span(sum.attachments[i].filename);
        info->attachments[i].content_type = text_span(sum.attachments[i].content_type);
        info->attachments[i].sha256 = text_span(sum.attachments[i].sha256);
        info->attachments[i].size = sum.attachments[i].size;
        info->n_attachments = i + 1;
    }
}

/* ---- the packet loop ------------------------------------------------------- */

static void index_ports(struct run *run)
{
    memset(run->port_bits, 0, sizeof(run->port_bits));
    for (size_t i = 0; i < run->opt.n_ports; i++) {
        run->port_bits[run->opt.ports[i] / 64] |= 1ULL << (run->opt.ports[i] % 64);
    }
}

static bool port_selected(const struct run *run, uint16_t port)
{
    return (run->port_bits[port / 64] >> (port % 64)) & 1;
}

static uint32_t flow_hash(const struct decoded *d, bool is_ipv6, const uint8_t *tcp)
{
    const uint8_t *a = is_ipv6 ? d->ip + 8 : d->ip + 12;
    size_t n = is_ipv6 ? 32 : 8;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ a[i]) * 16777619u;
    }
    for (size_t i = 0; i < 4; i++) {
        h = (h ^ tcp[i]) * 16777619u;
    }
    return h | 1u; /* 0 marks an empty slot */
}

/*
 * A TCP segment on a port we do not analyse.  When a server's very first
 * byte on a connection (its sequence number is the SYN/ACK's plus one)
 * starts an SMTP greeting ("220 " or "220-"), remember its port, so that a
 * capture made on a non-standard port (2525, 8025, ...) is not silently
 * empty.  Tunnels (SOCKS, HTTP CONNECT) answer something else first and
 * are not taken for SMTP servers.
 */
static void note_other_port(struct run *run, const struct decoded *d, bool is_ipv6)
{
    const uint8_t *tcp = is_ipv6 ? d->l4 : d->ip + (size_t)(d->ip[0] & 0x0F) * 4;
    size_t seg_len = is_ipv6 ? d->l4_len : d->ip_len - (size_t)(d->ip[0] & 0x0F) * 4;
    if (!d->has_ports || seg_len < 20 ||
        run->n_greeting_ports == sizeof(run->greeting_ports) / sizeof(run->greeting_ports[0])) {
        return;
    }
    size_t thl = (size_t)(tcp[12] >> 4) * 4;
    if (thl < 20 || seg_len < thl) {
        return;
    }
    uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
    uint32_t key = flow_hash(d, is_ipv6, tcp);
    struct first_seq *slot = &run->first_seq[key % FIRST_SEQ_SLOTS];
    if ((tcp[13] & 0x12) == 0x12) { /* SYN/ACK: the server's first byte is next */
        slot->key = key;
        slot->seq = seq + 1;
        return;
    }
    const uint8_t *payload = tcp + thl;
    size_t len = seg_len - thl;
    if (len < 4 || slot->key != key || slot->seq != seq || memcmp(payload, "220", 3) != 0 ||
        (payload[3] != ' ' && payload[3] != '-')) {
        return;
    }
    for (size_t i = 0; i < run->n_greeting_ports; i++) {
        if (run->greeting_ports[i] == d->sport) {
            return;
        }
    }
    run->greeting_ports[run->n_greeting_ports++] = d->sport;
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
    if (!decode_linktype_supported(pkt->linktype)) {
        in->n_unsupported_link++;
        return;
    }
    enum decode_result r = decode_frame(pkt->linktype, pkt->data, pkt->caplen, &d);
    if (r == DECODE_IPV6) {
        if (!port_selected(run, d.sport) && !port_selected(run, d.dport)) {
            in->n_other_ports++;
            note_other_port(run, &d, true);
            return;
        }
        in->by_decode[r]++;
        stream_feed_ipv6(d.ip, d.l4, d.l4_len, pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us,
                         d.is_offload);
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
    } else if (!port_selected(run, d.sport) && !port_selected(run, d.dport)) {
        in->n_other_ports++;
        note_other_port(run, &d, false);
        return;
    }
    in->by_decode[DECODE_IPV4]++;
    /* Packets with times going backwards keep the clock where it was. */
    int64_t now = pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us;
    if (d.is_offload) {
        stream_feed_ipv4_offload(d.ip, d.ip_len, now);
    } else {
        stream_feed_ipv4(d.ip, d.ip_len, now);
    }
}

static int64_t wall_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

static void print_stats_line(struct run *run)
{
    uint64_t drop = 0;
    uint64_t ifdrop = 0;
    capture_drops(&run->cap, &drop, &ifdrop);
    unsigned long long abnormal = 0;
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (verdict_label_is_abnormal(l)) {
            abnormal += run->stats->labels[l];
        }
    }
    fprintf(stderr,
            "smtpscope: packets %llu, drops %llu kernel %llu interface, sessions open %llu "
            "closed %llu, abnormal closes %llu, resident %ld KiB\n",
            (unsigned long long)run->input.n_packets, (unsigned long long)drop,
            (unsigned long long)ifdrop, (unsigned long long)run->table.stats.n_open,
            (unsigned long long)run->stats->n_sessions, abnormal, resident_kib());
}

/* SIGHUP: reopen the JSON file (after log rotation moved it away). */
static void reopen_json(struct run *run)
{
    if (!run->has_json || run->json_file == stdout) {
        return;
    }
    FILE *f = fopen(run->opt.json_path, "a");
    if (f == NULL) {
        fprintf(stderr, "smtpscope: cannot reopen %s: %s\n", run->opt.json_path, strerror(errno));
        return;
    }
    fclose(run->json_file);
    run->json_file = f;
    run->json.out = f;
}

/* Work that runs on a timer in live capture: idle sweep, stats, limits. */
static void live_housekeeping(struct run *run, int64_t *next_stats_us, int64_t stop_at_us)
{
    int64_t now = wall_clock_us();
    stream_tick(now);
    if (g_reopen) {
        g_reopen = 0;
        reopen_json(run);
    }
    if (g_stats_now || (run->opt.stats_every_s > 0 && now >= *next_stats_us)) {
        g_stats_now = 0;
        *next_stats_us = now + run->opt.stats_every_s * 1000000;
        print_stats_line(run);
    }
    if (stop_at_us > 0 && now >= stop_at_us) {
        g_stop = 1;
    }
}

static bool session_limit_reached(const struct run *run)
{
    return run->opt.max_sessions > 0 && (long long)run->stats->n_sessions >= run->opt.max_sessions;
}

/* With many sessions open, each packet's stream state is cold: the
 * packets that come next have theirs loading while this one is processed
 * (the stream layer takes it in two steps, one packet apart). */
static void look_ahead(struct run *run)
{
    const uint8_t *data;
    size_t caplen;
    int linktype;
    const uint8_t *ip;
    size_t ip_len;
    if (capture_set_peek(run->files, 2, &data, &caplen, &linktype) &&
        decode_ipv4_quick(linktype, data, caplen, &ip, &ip_len)) {
        stream_prefetch_ipv4(ip, ip_len);
    } else {
        stream_prefetch_ipv4(NULL, 0);
    }
}

static int read_packets(struct run *run)
{
    struct capture_packet pkt;
    int rc = 0;
    int64_t start = wall_clock_us();
    int64_t next_stats = start + run->opt.stats_every_s * 1000000;
    int64_t stop_at = run->opt.duration_s > 0 ? start + run->opt.duration_s * 1000000 : 0;
    uint64_t since_housekeeping = 0;
    while (!g_stop && !session_limit_reached(run)) {
        rc = run->files != NULL ? capture_set_next(run->files, &pkt, run->err, sizeof(run->err))
                                : capture_next(&run->cap, &pkt, run->err, sizeof(run->err));
        if (rc == 1) {
            if (run->table.stats.n_open > (uint64_t)run->opt.prefetch_above &&
                run->files != NULL) {
                look_ahead(run);
            }
            handle_packet(run, &pkt);
            if (run->cap.is_live && ++since_housekeeping == 256) {
                since_housekeeping = 0;
                live_housekeeping(run, &next_stats, stop_at);
            }
            continue;
        }
        if (rc != 2) {
            break;
        }
        struct pollfd pfd = {capture_fd(&run->cap), POLLIN, 0};
        poll(&pfd, 1, 200);
        live_housekeeping(run, &next_stats, stop_at);
    }
    if (session_limit_reached(run)) {
        g_stop = 1; /* -c: the open sessions end as stopped, like on SIGINT */
    }
    if (g_stop || rc >= 0) {
        return SMTPSCOPE_OK;
    }
    run->input.error = run->err;
    return rc;
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
        run->json.flush_each = run->opt.device != NULL;
        run->has_json = true;
    }
    if (!run->opt.quiet) {
        writer_text_init(&run->text, summary_to);
        run->has_text = true;
    }
    if (run->opt.report_path != NULL) {
        run->html_file = fopen(run->opt.report_path, "w");
        if (run->html_file == NULL) {
            snprintf(run->err, sizeof(run->err), "%s: %s", run->opt.report_path, strerror(errno));
            return SMTPSCOPE_ERR_OUTPUT;
        }
        writer_html_init(&run->html, run->html_file, &run->meta);
        run->has_html = true;
    }
    return SMTPSCOPE_OK;
}

/* pcap files say their link type up front; pcapng per interface. */
static int check_linktypes(struct run *run)
{
    run->input.linktype_name = "per interface (pcapng)";
    for (size_t i = 0; i < run->files->n; i++) {
        const struct capture *c = &run->files->files[i];
        if (c->linktype < 0) {
            continue;
        }
        if (!decode_linktype_supported(c->linktype)) {
            snprintf(run->err, sizeof(run->err), "%.300s: link type %s (%d) is not supported",
                     c->source, capture_linktype_name(c->linktype), c->linktype);
            return SMTPSCOPE_ERR_LINKTYPE;
        }
        run->input.linktype_name = capture_linktype_name(c->linktype);
    }
    return SMTPSCOPE_OK;
}

/* -Z: give up root once the interface is open (tcpdump's habit). */
static int drop_privileges(struct run *run)
{
    struct passwd *pw = getpwnam(run->opt.run_as);
    if (pw == NULL) {
        snprintf(run->err, sizeof(run->err), "-Z: no user %s", run->opt.run_as);
        return SMTPSCOPE_ERR_USAGE;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(run->err, sizeof(run->err), "-Z %s: %s", run->opt.run_as, strerror(errno));
        return SMTPSCOPE_ERR_USAGE;
    }
    return SMTPSCOPE_OK;
}

/* The default live filter: SMTP ports, also inside VLAN tags, plus IP
 * fragments (their later pieces carry no ports). */
static char *default_live_filter(const struct options *o)
{
    char ports[PORTS_MAX * 16] = "";
    size_t used = 0;
    for (size_t i = 0; i < o->n_ports; i++) {
        used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%stcp port %u",
                                 i ? " or " : "", o->ports[i]);
    }
    size_t len = 3 * used + 128;
    char *f = malloc(len);
    if (f != NULL) {
        snprintf(f, len, "(%s) or (ip[6:2] & 0x3fff != 0) or (vlan and ((%s) or (vlan and (%s))))",
                 ports, ports, ports);
    }
    return f;
}

/* Reading ahead on one CPU only adds switches between the threads
 * (measured: 8-10% slower under taskset -c 0), so by default it needs a
 * second CPU this process may run on. */
static int read_threads(const struct options *o)
{
    if (o->read_threads >= 0) {
        return (int)o->read_threads;
    }
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0 || CPU_COUNT(&cpus) < 2) {
        return 0;
    }
    return READ_THREADS_DEFAULT;
}

static int open_files(struct run *run)
{
    int rc = capture_set_open(run->files, run->opt.read_paths, run->opt.n_read, run->err,
                              sizeof(run->err));
    if (rc == SMTPSCOPE_OK) {
        capture_set_read_ahead(run->files, read_threads(&run->opt));
    }
    return rc;
}

static int open_input(struct run *run)
{
    int rc;
    if (run->opt.device != NULL) {
        struct capture_live_options lo = {CAPTURE_SNAPLEN, run->opt.buffer_mib << 20,
                                          !run->opt.no_promisc};
        rc = capture_open_live(&run->cap, run->opt.device, &lo, run->err, sizeof(run->err));
        run->input.is_live = true;
        run->input.source = run->opt.device;
        if (rc == SMTPSCOPE_OK && run->opt.filter != NULL) {
            rc = capture_set_filter_one(&run->cap, run->opt.filter, run->err, sizeof(run->err));
        } else if (rc == SMTPSCOPE_OK) {
            run->opt.filter = default_live_filter(&run->opt);
            char spare[512];
            if (run->opt.filter != NULL &&
                capture_set_filter_one(&run->cap, run->opt.filter, spare, sizeof(spare)) != 0) {
                /* Some link types have no vlan keyword: the ports alone then. */
                char *cut = strstr(run->opt.filter, " or (ip[6:2]");
                if (cut != NULL) {
                    *cut = '\0';
                }
                rc = capture_set_filter_one(&run->cap, run->opt.filter, run->err,
                                            sizeof(run->err));
            }
        }
        if (rc == SMTPSCOPE_OK && run->opt.run_as != NULL) {
            rc = drop_privileges(run);
        }
    } else {
        run->files = calloc(1, sizeof(*run->files));
        if (run->files == NULL) {
            snprintf(run->err, sizeof(run->err), "out of memory");
            return SMTPSCOPE_ERR_INTERNAL;
        }
        rc = open_files(run);
        if (run->opt.n_read > 1) {
            snprintf(run->source_text, sizeof(run->source_text), "%.256s and %zu more files",
                     run->opt.read_paths[0], run->opt.n_read - 1);
            run->input.source = run->source_text;
        }
        if (rc == SMTPSCOPE_OK) {
            rc = check_linktypes(run);
        }
        if (rc == SMTPSCOPE_OK && run->opt.filter != NULL) {
            rc = capture_set_filter(run->files, run->opt.filter, run->err, sizeof(run->err));
        }
        return rc;
    }
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    if (!decode_linktype_supported(run->cap.linktype)) {
        snprintf(run->err, sizeof(run->err), "%s: link type %s (%d) is not supported",
                 run->cap.source, capture_linktype_name(run->cap.linktype), run->cap.linktype);
        return SMTPSCOPE_ERR_LINKTYPE;
    }
    run->input.linktype_name = capture_linktype_name(run->cap.linktype);
    return SMTPSCOPE_OK;
}

static int start_pipeline(struct run *run)
{
    index_ports(run);
    struct session_config scfg = {
        .implicit_tls_ports = g_tls_ports,
        .n_implicit_tls_ports = g_n_tls_ports,
        .idle_timeout_us = run->opt.idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_US
                                                       : run->opt.idle_timeout_s * 1000000,
        .idle_timeout_data_us = run->opt.idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_DATA_US
                                                            : run->opt.idle_timeout_s * 1000000,
        .order_window = (size_t)run->opt.order_window,
        .glue_size = STREAM_GLUE_SIZE,
        .resume_client = stream_resume_client,
        .prefetch_above = (uint64_t)run->opt.prefetch_above,
    };
    if (run->opt.extract_dir != NULL && run->extractor == NULL) {
        run->extractor = extract_open(run->opt.extract_dir, run->err, sizeof(run->err));
        if (run->extractor == NULL) {
            return SMTPSCOPE_ERR_OUTPUT;
        }
    }
    if (run->extractor != NULL) {
        scfg.content = (struct session_content_sink){run->extractor, extract_sink_begin,
                                                     extract_sink_data, extract_sink_end};
    }
    struct session_sink sink = {emit_record, run};
    if (!session_table_init(&run->table, &scfg, sink)) {
        snprintf(run->err, sizeof(run->err), "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    struct stream_config cfg = {
        .max_streams = run->opt.max_streams,
        .free_buffers_above = (uint64_t)run->opt.free_buffers_above,
        .prefetch_above = (uint64_t)run->opt.prefetch_above,
        .verify_checksums = run->opt.verify_checksums,
        .reorder_window_us = run->opt.reorder_window_ms * 1000,
        .reorder_packets = (uint32_t)run->opt.reorder_packets,
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
    in->n_offload_segments = ss.n_offload_segments;
    in->n_window_reopened = ss.n_window_reopened;
    in->n_held_back = ss.n_held_back;
    in->n_holes = ss.n_holes;
    in->n_hole_bytes = ss.n_hole_bytes;
    in->n_waiting_max = ss.n_waiting_max;
    in->n_reorder_overflow = ss.n_reorder_overflow;
    in->n_unattached_packets = ss.n_unattached_packets;
    in->n_unattached_flows = ss.n_unattached_flows;
    in->n_evicted = ss.n_evicted;
    in->n_idle = ss.n_idle;
    in->n_port_reused = ss.n_port_reused;
    in->n_open_at_end = ss.n_open_at_end;
    in->n_session_failed = ss.n_session_failed + run->table.stats.n_alloc_failed;
    in->n_out_of_order = run->table.stats.n_out_of_order;
    in->n_tcp_header_invalid = ss.warnings[7] + ss.warnings[4];
    capture_drops(&run->cap, &in->n_dropped, &in->n_if_dropped);
    in->n_queue_pruned = ss.warnings[8];
    in->n_ip_warnings = ss.warnings[1] + ss.warnings[2] + ss.warnings[3] + ss.warnings[5];
}

/*
 * Files with no SMTP at all on the analysed ports, but SMTP greetings on
 * others: say so, add those ports and read the files again (nothing has
 * been written yet).  Not with --ports (the user chose), not for standard
 * input or live capture (they cannot be read twice).
 */
static bool should_read_again(const struct run *run, int rc)
{
    if (rc != SMTPSCOPE_OK || g_stop || run->opt.ports_given || run->files == NULL ||
        run->n_greeting_ports == 0 || run->table.stats.n_opened > 0 ||
        run->input.n_unattached_packets > 0) {
        return false;
    }
    for (size_t i = 0; i < run->opt.n_read; i++) {
        if (strcmp(run->opt.read_paths[i], "-") == 0) {
            return false;
        }
    }
    return true;
}

static int start_pipeline(struct run *run);

static int read_again_with_greeting_ports(struct run *run)
{
    char list[256] = "";
    size_t used = 0;
    stream_finish(RECORD_END_END_OF_INPUT, run->input.last_us);
    session_table_free(&run->table);
    capture_set_close(run->files);
    for (size_t i = 0; i < run->n_greeting_ports && run->opt.n_ports < PORTS_MAX; i++) {
        run->opt.ports[run->opt.n_ports++] = run->greeting_ports[i];
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", i ? "," : "",
                                 run->greeting_ports[i]);
    }
    fprintf(stderr,
            "smtpscope: no SMTP on the default ports, but SMTP greetings from port %s: "
            "reading again with those ports (--ports chooses them yourself)\n",
            list);
    const char *source = run->input.source;
    const char *linktype = run->input.linktype_name;
    memset(&run->input, 0, sizeof(run->input));
    run->input.first_us = -1;
    run->input.last_us = -1;
    run->input.source = source;
    run->input.linktype_name = linktype;
    stats_init(run->stats);
    int rc = open_files(run);
    if (rc == SMTPSCOPE_OK && run->opt.filter != NULL) {
        rc = capture_set_filter(run->files, run->opt.filter, run->err, sizeof(run->err));
    }
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(run);
    }
    return rc != SMTPSCOPE_OK ? rc : read_packets(run);
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
    if (run->has_html) {
        run->html.summary(&run->html, &rep);
        if (fflush(run->html_file) != 0 || run->html.failed) {
            snprintf(run->err, sizeof(run->err), "writing %s: %s", run->opt.report_path,
                     strerror(errno));
            rc = SMTPSCOPE_ERR_OUTPUT;
        }
    }
    return rc;
}

static void release(struct run *run)
{
    session_table_free(&run->table);
    capture_close(&run->cap);
    if (run->files != NULL) {
        capture_set_close(run->files);
        free(run->files);
    }
    if (run->has_json) {
        writer_free(&run->json);
        if (run->json_file != stdout) {
            fclose(run->json_file);
        }
    }
    if (run->has_text) {
        writer_free(&run->text);
    }
    if (run->has_html) {
        writer_free(&run->html);
        fclose(run->html_file);
    }
    extract_close(run->extractor);
    free(run->stats);
    free(run->opt.filter);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "explain") == 0) return explain_main(argc - 1, argv + 1);
    static struct run run;
    int status = parse_options(argc, argv, &run.opt);
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
    /* calloc, not malloc + stats_init: the ~1 MB of histograms is zero
     * already, and pages no sample lands in are never touched. */
    run.stats = calloc(1, sizeof(*run.stats));
    if (run.stats == NULL) {
        fprintf(stderr, "smtpscope: out of memory\n");
        return exit_status(SMTPSCOPE_ERR_INTERNAL);
    }
    if (run.opt.report_path != NULL) {
        /* Hash the input before libpcap reads it (a live capture has none). */
        report_meta_init(&run.meta, argc, argv, run.opt.read_paths, run.opt.n_read);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
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
        gather_coverage(&run);
        if (should_read_again(&run, rc)) {
            rc = read_again_with_greeting_ports(&run);
        }
        rc = finish(&run, rc);
    }
    if (rc != SMTPSCOPE_OK) {
        fprintf(stderr, "smtpscope: %s\n", run.err);
    }
    release(&run);
    return exit_status(rc);
}
