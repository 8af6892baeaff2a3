/*
 * metrics.c - the Prometheus endpoint: a tally of the run, published to a
 * libmicrohttpd thread that formats it on each scrape (metrics.h).
 *
 * The packet thread writes only its private tally and, now and then,
 * copies it under a mutex it does not wait for; the HTTP thread copies
 * it back under the same mutex and formats outside it.  So the cost on
 * the packet path is a few additions per finished record and a copy of
 * about 17 KB per publication, and a slow or stuck client costs the
 * packets nothing.  The exposition follows the Prometheus text format
 * 0.0.4 (counters end in _total, times are seconds, histograms have
 * cumulative le buckets, _sum and _count).
 *
 * SPDX-License-Identifier: MIT
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "smtpscope.h"
#include "timing.h"
#include "utf8.h"

static const int64_t bucket_us[METRICS_BUCKETS] = {METRICS_BUCKET_BOUNDS_US};

/* ---- the tally ------------------------------------------------------------ */

static void hist_add(struct metrics_hist *h, int64_t us)
{
    if (us < 0) {
        return; /* unknown, as in the summary's histograms */
    }
    /* A scan from the smallest bound: most SMTP latencies fall in the
     * first few buckets (measured: fewer instructions than halving). */
    size_t i = 0;
    while (i < METRICS_BUCKETS && us > bucket_us[i]) {
        i++;
    }
    h->n[i]++;
    h->sum_us += (uint64_t)us;
}

static enum metrics_reply_class reply_class(uint16_t code)
{
    switch (code / 100) {
    case 2:
        return METRICS_REPLY_2XX;
    case 3:
        return METRICS_REPLY_3XX;
    case 4:
        return METRICS_REPLY_4XX;
    case 5:
        return METRICS_REPLY_5XX;
    default:
        return METRICS_REPLY_OTHER;
    }
}

/* Counted as the summary counts reply_codes: every reply with a code. */
static void count_reply(struct metrics_tally *t, uint16_t code)
{
    if (code > 0 && code < 1000) {
        t->replies[reply_class(code)]++;
    }
}

static bool same_endpoint(const struct record_endpoint *a, const struct record_endpoint *b)
{
    return a->port == b->port && a->family == b->family &&
           memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* The server's entry: the last one found first (a site's sessions mostly
 * go to a few servers), then the others in order. */
static struct metrics_server *server_of(struct metrics_tally *t, const struct record_endpoint *ep)
{
    if (t->last_server < t->n_servers && same_endpoint(&t->servers[t->last_server].ep, ep)) {
        return &t->servers[t->last_server];
    }
    for (uint32_t i = 0; i < t->n_servers; i++) {
        if (same_endpoint(&t->servers[i].ep, ep)) {
            t->last_server = i;
            return &t->servers[i];
        }
    }
    if (t->n_servers < METRICS_SERVERS_MAX) {
        t->last_server = t->n_servers;
        struct metrics_server *s = &t->servers[t->n_servers++];
        s->ep = *ep;
        return s;
    }
    return &t->other_server;
}

void metrics_tally_add(struct metrics_tally *t, const struct session_record *r)
{
    bool abnormal = r->label < VERDICT_LABEL_COUNT && verdict_label_is_abnormal(r->label);
    if (r->label < VERDICT_LABEL_COUNT) {
        t->sessions[r->label]++;
    }
    for (uint64_t bits = r->flags; bits != 0; bits &= bits - 1) {
        unsigned f = (unsigned)__builtin_ctzll(bits);
        if (f < VERDICT_FLAG_COUNT) {
            t->flags[f]++;
        }
    }
    t->messages_attempted += r->messages_attempted;
    t->messages_accepted += r->messages_accepted;
    if (r->has_greeting) {
        count_reply(t, r->greeting.code);
    }
    int64_t banner = record_banner_us(r);
    hist_add(&t->banner, banner);
    struct metrics_server *s = server_of(t, &r->server);
    s->sessions++;
    s->abnormal += abnormal;
    hist_add(&s->banner, banner);
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        const struct record_exchange *x = &r->exchanges[i];
        count_reply(t, x->code);
        if (x->code == 0) {
            continue;
        }
        if (x->kind == RECORD_KIND_COMMAND && x->verb < SMTP_VERB_COUNT) {
            hist_add(&t->reply[x->verb], record_latency_us(x));
        } else if (x->kind == RECORD_KIND_MESSAGE) {
            hist_add(&t->reply[METRICS_REPLY_END_OF_DATA], record_latency_us(x));
        }
    }
}

/* ---- the exposition ------------------------------------------------------- */

bool metrics_escape_label(struct capbuf *out, struct span s)
{
    size_t n = s.len < METRICS_LABEL_MAX ? s.len : METRICS_LABEL_MAX;
    const uint8_t *p = s.ptr;
    size_t i = 0;
    bool ok = true;
    while (ok && i < n) {
        uint8_t c = p[i];
        if (c == '\\') {
            ok = OUT_LIT(out, "\\\\");
        } else if (c == '"') {
            ok = OUT_LIT(out, "\\\"");
        } else if (c == '\n') {
            ok = OUT_LIT(out, "\\n");
        } else if (c < 0x20 || c == 0x7F) {
            ok = OUT_LIT(out, "\xEF\xBF\xBD"); /* U+FFFD */
        } else if (c < 0x80) {
            ok = capbuf_append(out, &c, 1);
        } else {
            size_t len = utf8_seq_len(p + i, n - i);
            if (len == 0) {
                ok = OUT_LIT(out, "\xEF\xBF\xBD"); /* U+FFFD */
            } else {
                ok = capbuf_append(out, p + i, len);
                i += len - 1;
            }
        }
        i++;
    }
    return ok;
}

/* A time in microseconds as decimal seconds, without trailing zeros. */
static bool out_seconds(struct capbuf *out, uint64_t us)
{
    char frac[8];
    snprintf(frac, sizeof(frac), "%06llu", (unsigned long long)(us % 1000000));
    size_t len = 6;
    while (len > 0 && frac[len - 1] == '0') {
        len--;
    }
    frac[len] = '\0';
    return out_fmt(out, "%llu%s%s", (unsigned long long)(us / 1000000), len > 0 ? "." : "",
                   frac);
}

static bool out_head(struct capbuf *out, const char *name, const char *type, const char *help)
{
    return out_fmt(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One label pair, name="value", value escaped; a comma before it unless first. */
static bool out_label(struct capbuf *out, bool first, const char *name, const char *value)
{
    return (first || OUT_LIT(out, ",")) && out_str(out, name) && OUT_LIT(out, "=\"") &&
           metrics_escape_label(out, span_make(value, strlen(value))) && OUT_LIT(out, "\"");
}

/* "name{label="value"," (or "name{" without a label), before le. */
static bool out_series_open(struct capbuf *out, const char *name, const char *suffix,
                            const char *label, const char *value)
{
    return out_str(out, name) && out_str(out, suffix) && OUT_LIT(out, "{") &&
           (label == NULL || (out_label(out, true, label, value) && OUT_LIT(out, ",")));
}

/* "name_suffix{label="value"} " or "name_suffix " without a label. */
static bool out_series(struct capbuf *out, const char *name, const char *suffix,
                       const char *label, const char *value)
{
    bool ok = out_str(out, name) && out_str(out, suffix);
    if (label != NULL) {
        ok = ok && OUT_LIT(out, "{") && out_label(out, true, label, value) && OUT_LIT(out, "}");
    }
    return ok && OUT_LIT(out, " ");
}

static bool out_sample(struct capbuf *out, const char *name, const char *label, const char *value,
                       uint64_t v)
{
    return out_series(out, name, "", label, value) && out_u64(out, v) && OUT_LIT(out, "\n");
}

/* The samples of one histogram: cumulative buckets, sum, count. */
static bool out_hist(struct capbuf *out, const char *name, const char *label, const char *value,
                     const struct metrics_hist *h)
{
    uint64_t cum = 0;
    bool ok = true;
    for (size_t i = 0; ok && i <= METRICS_BUCKETS; i++) {
        cum += h->n[i];
        ok = out_series_open(out, name, "_bucket", label, value) && OUT_LIT(out, "le=\"") &&
             (i < METRICS_BUCKETS ? out_seconds(out, (uint64_t)bucket_us[i])
                                  : OUT_LIT(out, "+Inf")) &&
             OUT_LIT(out, "\"} ") && out_u64(out, cum) && OUT_LIT(out, "\n");
    }
    return ok && out_series(out, name, "_sum", label, value) && out_seconds(out, h->sum_us) &&
           OUT_LIT(out, "\n") && out_series(out, name, "_count", label, value) &&
           out_u64(out, cum) && OUT_LIT(out, "\n");
}

static uint64_t hist_count(const struct metrics_hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
        n += h->n[i];
    }
    return n;
}

static const char *reply_hist_name(size_t i)
{
    if (i == METRICS_REPLY_END_OF_DATA) {
        return "end_of_data";
    }
    return i == SMTP_VERB_UNKNOWN ? "other" : smtp_verb_name((enum smtp_verb)i);
}

static bool format_input(struct capbuf *out, const struct metrics_tally *t, uint64_t resident)
{
    return out_head(out, "smtpscope_packets_total", "counter",
                    "Packets read from the capture (file or interface), all processes.") &&
           out_sample(out, "smtpscope_packets_total", NULL, NULL, t->packets) &&
           out_head(out, "smtpscope_captured_bytes_total", "counter",
                    "Bytes of those packets as captured (up to the snapshot length).") &&
           out_sample(out, "smtpscope_captured_bytes_total", NULL, NULL, t->bytes) &&
           out_head(out, "smtpscope_kernel_dropped_packets_total", "counter",
                    "Packets the kernel dropped for lack of buffer space (pcap ps_drop), "
                    "every capture socket of the run.") &&
           out_sample(out, "smtpscope_kernel_dropped_packets_total", NULL, NULL, t->dropped) &&
           out_head(out, "smtpscope_interface_dropped_packets_total", "counter",
                    "Packets the interface or its driver dropped (pcap ps_ifdrop).") &&
           out_sample(out, "smtpscope_interface_dropped_packets_total", NULL, NULL,
                      t->if_dropped) &&
           out_head(out, "smtpscope_sessions_open", "gauge",
                    "SMTP sessions open now (no record written yet).") &&
           out_sample(out, "smtpscope_sessions_open", NULL, NULL, t->sessions_open) &&
           out_head(out, "smtpscope_resident_memory_bytes", "gauge",
                    "Resident memory of the run's processes (this one and its workers).") &&
           out_sample(out, "smtpscope_resident_memory_bytes", NULL, NULL, resident) &&
           out_head(out, "smtpscope_input_ended", "gauge",
                    "1 once the input has ended (end of file, --duration, -c or a signal): "
                    "every count is final.") &&
           out_sample(out, "smtpscope_input_ended", NULL, NULL, t->input_ended) &&
           out_head(out, "smtpscope_build_info", "gauge", "The smtpscope version, as a label.") &&
           out_sample(out, "smtpscope_build_info", "version", SMTPSCOPE_VERSION, 1);
}

static bool format_sessions(struct capbuf *out, const struct metrics_tally *t)
{
    bool ok = out_head(out, "smtpscope_sessions_total", "counter",
                       "SMTP sessions ended, by close label (docs/verdicts.md); abnormal is "
                       "true for every label but normal_quit, tls_opaque and "
                       "one_sided_capture.");
    for (int l = 0; ok && l < VERDICT_LABEL_COUNT; l++) {
        ok = OUT_LIT(out, "smtpscope_sessions_total{") &&
             out_label(out, true, "close", verdict_label_info(l)->name) &&
             out_label(out, false, "abnormal", verdict_label_is_abnormal(l) ? "true" : "false") &&
             OUT_LIT(out, "} ") && out_u64(out, t->sessions[l]) && OUT_LIT(out, "\n");
    }
    ok = ok && out_head(out, "smtpscope_session_flags_total", "counter",
                        "SMTP sessions ended with each flag (docs/verdicts.md); a session "
                        "counts once per flag it has.");
    for (int f = 0; ok && f < VERDICT_FLAG_COUNT; f++) {
        ok = out_sample(out, "smtpscope_session_flags_total", "flag", verdict_flag_info(f)->name,
                        t->flags[f]);
    }
    ok = ok && out_head(out, "smtpscope_replies_total", "counter",
                        "Server replies with a code (the greeting included), by class; other "
                        "is any code outside 200-599.");
    static const char *const classes[] = {
#define XX(id, str) str,
        METRICS_REPLY_CLASS_MAP(XX)
#undef XX
    };
    for (int c = 0; ok && c < METRICS_REPLY_CLASS_COUNT; c++) {
        ok = out_sample(out, "smtpscope_replies_total", "class", classes[c], t->replies[c]);
    }
    return ok &&
           out_head(out, "smtpscope_messages_attempted_total", "counter",
                    "Mail transactions started (MAIL accepted and a message sent or tried).") &&
           out_sample(out, "smtpscope_messages_attempted_total", NULL, NULL,
                      t->messages_attempted) &&
           out_head(out, "smtpscope_messages_accepted_total", "counter",
                    "Messages that got a final 2xx reply.") &&
           out_sample(out, "smtpscope_messages_accepted_total", NULL, NULL,
                      t->messages_accepted);
}

static bool format_latency(struct capbuf *out, const struct metrics_tally *t)
{
    bool ok = out_head(out, "smtpscope_banner_latency_seconds", "histogram",
                       "Client's handshake ACK to the first byte of the server's greeting "
                       "(docs/timing.md); sessions picked up mid-stream have none.") &&
              out_hist(out, "smtpscope_banner_latency_seconds", NULL, NULL, &t->banner);
    ok = ok && out_head(out, "smtpscope_reply_latency_seconds", "histogram",
                        "Command complete to the first byte of its reply, by command: the "
                        "SMTP verbs, other for unknown verbs, end_of_data for the reply to a "
                        "message's content. Commands never seen have no series.");
    for (size_t i = 0; ok && i < METRICS_REPLY_HISTS; i++) {
        if (hist_count(&t->reply[i]) > 0) {
            ok = out_hist(out, "smtpscope_reply_latency_seconds", "command", reply_hist_name(i),
                          &t->reply[i]);
        }
    }
    return ok;
}

static bool format_servers(struct capbuf *out, const struct metrics_tally *t)
{
    char names[METRICS_SERVERS_MAX + 1][RECORD_ENDPOINT_TEXT_MAX];
    const struct metrics_server *s[METRICS_SERVERS_MAX + 1];
    size_t n = 0;
    for (uint32_t i = 0; i < t->n_servers && i < METRICS_SERVERS_MAX; i++) {
        record_endpoint_format(names[n], sizeof(names[n]), &t->servers[i].ep);
        s[n++] = &t->servers[i];
    }
    if (t->other_server.sessions > 0) {
        snprintf(names[n], sizeof(names[n]), "other");
        s[n++] = &t->other_server;
    }
    bool ok = out_head(out, "smtpscope_server_sessions_total", "counter",
                       "SMTP sessions ended, by server address and port (the first 64 "
                       "servers seen; the rest under server=\"other\").");
    for (size_t i = 0; ok && i < n; i++) {
        ok = out_sample(out, "smtpscope_server_sessions_total", "server", names[i],
                        s[i]->sessions);
    }
    ok = ok && out_head(out, "smtpscope_server_abnormal_sessions_total", "counter",
                        "Those of them with an abnormal close label.");
    for (size_t i = 0; ok && i < n; i++) {
        ok = out_sample(out, "smtpscope_server_abnormal_sessions_total", "server", names[i],
                        s[i]->abnormal);
    }
    ok = ok && out_head(out, "smtpscope_server_banner_latency_seconds", "histogram",
                        "Banner latency by server (as smtpscope_banner_latency_seconds).");
    for (size_t i = 0; ok && i < n; i++) {
        ok = out_hist(out, "smtpscope_server_banner_latency_seconds", "server", names[i],
                      &s[i]->banner);
    }
    return ok;
}

bool metrics_format(struct capbuf *out, const struct metrics_tally *t, uint64_t resident_bytes)
{
    return format_input(out, t, resident_bytes) && format_sessions(out, t) &&
           format_latency(out, t) && format_servers(out, t);
}

/* ---- the listening address ------------------------------------------------ */

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535 || *s == '-' || *s == '+') {
        return false;
    }
    *port = (uint16_t)v;
    return true;
}

bool metrics_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    const char *colon = strrchr(s, ':');
    uint16_t port;
    if (colon == NULL || colon == s) {
        /* Every address: the IPv6 wildcard, which takes IPv4 too. */
        if (!parse_port(colon == NULL ? s : s + 1, &port)) {
            return false;
        }
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons(port);
        *len = sizeof(*a);
        return true;
    }
    if (!parse_port(colon + 1, &port)) {
        return false;
    }
    char host[64];
    size_t hlen = (size_t)(colon - s);
    if (hlen >= sizeof(host)) {
        return false;
    }
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']') {
            return false;
        }
        host[hlen - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1) {
            return false;
        }
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        *len = sizeof(*a);
        return true;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
        return false;
    }
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    *len = sizeof(*a);
    return true;
}

/* ---- the server ----------------------------------------------------------- */

struct metrics {
    struct metrics_tally mine;      /* the packet thread's */
    pthread_mutex_t lock;
    struct metrics_tally published; /* under lock */
    struct MHD_Daemon *daemon;
    int fd;
    struct sockaddr_storage addr;   /* as bound (the port chosen, if 0 was asked) */
    socklen_t addr_len;
    bool is_wildcard;
};

/* Resident bytes of one process, from /proc (0 when it is gone). */
static uint64_t resident_of(const char *statm)
{
    long pages = 0;
    FILE *f = fopen(statm, "r");
    if (f != NULL) {
        if (fscanf(f, "%*s %ld", &pages) != 1) {
            pages = 0;
        }
        fclose(f);
    }
    return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    struct metrics *m = cls;
    if (*req_cls == NULL) {
        /* First call: headers only.  A body, if any, is never read. */
        *req_cls = m;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n");
    }
    if (strcmp(url, "/") == 0) {
        return reply_text(c, MHD_HTTP_OK, "smtpscope: the metrics are at /metrics\n");
    }
    if (strcmp(url, "/metrics") != 0) {
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
    }
    struct metrics_tally *t = malloc(sizeof(*t));
    if (t == NULL) {
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    pthread_mutex_lock(&m->lock);
    memcpy(t, &m->published, sizeof(*t));
    pthread_mutex_unlock(&m->lock);
    uint64_t resident = resident_of("/proc/self/statm");
    for (uint32_t i = 0; i < t->n_pids && i < WORKERS_MAX; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/statm", (int)t->pids[i]);
        resident += resident_of(path);
    }
    struct capbuf out;
    capbuf_init(&out, METRICS_SCRAPE_MAX);
    bool ok = metrics_format(&out, t, resident);
    free(t);
    if (!ok) {
        capbuf_free(&out);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics text too long\n");
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(out.len, out.data, free);
    if (resp == NULL) {
        capbuf_free(&out);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

static int start_daemon(struct metrics *m, char *err, size_t errlen)
{
    m->fd = socket(m->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m->fd < 0 && m->is_wildcard && errno == EAFNOSUPPORT) {
        /* Every address on a system without IPv6: every IPv4 one. */
        uint16_t port = ((struct sockaddr_in6 *)&m->addr)->sin6_port;
        struct sockaddr_in *a = (struct sockaddr_in *)&m->addr;
        memset(&m->addr, 0, sizeof(m->addr));
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        a->sin_port = port;
        m->addr_len = sizeof(*a);
        m->is_wildcard = false;
        m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    int family = m->addr.ss_family;
    if (m->fd < 0) {
        snprintf(err, errlen, "--metrics: socket: %s", strerror(errno));
        return SMTPSCOPE_ERR_OUTPUT;
    }
    int one = 1;
    int zero = 0;
    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (m->is_wildcard) {
        /* Every address means IPv4 too, whatever the system's default. */
        setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (bind(m->fd, (struct sockaddr *)&m->addr, m->addr_len) != 0 ||
        listen(m->fd, METRICS_CONNECTIONS_MAX) != 0) {
        snprintf(err, errlen, "--metrics: cannot listen: %s", strerror(errno));
        close(m->fd);
        m->fd = -1;
        return SMTPSCOPE_ERR_OUTPUT;
    }
    /* The port the system chose, kept for a resume after a fork. */
    m->addr_len = sizeof(m->addr);
    getsockname(m->fd, (struct sockaddr *)&m->addr, &m->addr_len);
    /* The HTTP thread takes none of the signals main.c handles: they stay
     * with the thread that reads packets. */
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* ITC: a stop wakes the thread at once, even while every connection
     * slot is taken by idle clients and the listening socket is not
     * polled (without it, the stop waited for those clients). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET,
                                 m->fd, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)METRICS_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (m->daemon == NULL) {
        snprintf(err, errlen, "--metrics: the HTTP server did not start");
        close(m->fd);
        m->fd = -1;
        return SMTPSCOPE_ERR_OUTPUT;
    }
    return SMTPSCOPE_OK;
}

int metrics_open(struct metrics **out, const char *listen_at, char *bound, size_t bound_len,
                 char *err, size_t errlen)
{
    *out = NULL;
    struct metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    m->fd = -1;
    if (!metrics_parse_listen(listen_at, &m->addr, &m->addr_len)) {
        snprintf(err, errlen,
                 "--metrics wants [ADDR:]PORT (ADDR a numeric IPv4 address or [IPv6])");
        free(m);
        return SMTPSCOPE_ERR_USAGE;
    }
    m->is_wildcard = strchr(listen_at, '[') == NULL && strchr(listen_at, '.') == NULL;
    pthread_mutex_init(&m->lock, NULL);
    int rc = start_daemon(m, err, errlen);
    if (rc != SMTPSCOPE_OK) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return rc;
    }
    if (bound != NULL && bound_len > 0) {
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (m->addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&m->addr;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
            snprintf(bound, bound_len, "[%s]:%u", host, port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&m->addr;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
            snprintf(bound, bound_len, "%s:%u", host, port);
        }
    }
    *out = m;
    return SMTPSCOPE_OK;
}

static void stop_daemon(struct metrics *m)
{
    if (m->daemon != NULL) {
        MHD_stop_daemon(m->daemon); /* closes the listening socket too */
        m->daemon = NULL;
        m->fd = -1;
    }
}

void metrics_pause(struct metrics *m)
{
    if (m != NULL) {
        stop_daemon(m);
    }
}

int metrics_resume(struct metrics *m, char *err, size_t errlen)
{
    return m == NULL || m->daemon != NULL ? SMTPSCOPE_OK : start_daemon(m, err, errlen);
}

void metrics_record(struct metrics *m, const struct session_record *r)
{
    if (m != NULL) {
        metrics_tally_add(&m->mine, r);
    }
}

void metrics_set_input(struct metrics *m, uint64_t packets, uint64_t bytes, uint64_t dropped,
                       uint64_t if_dropped, uint64_t sessions_open)
{
    if (m == NULL) {
        return;
    }
    m->mine.packets = packets;
    m->mine.bytes = bytes;
    m->mine.dropped = dropped;
    m->mine.if_dropped = if_dropped;
    m->mine.sessions_open = sessions_open;
}

void metrics_set_pids(struct metrics *m, const int32_t *pids, uint32_t n)
{
    if (m == NULL) {
        return;
    }
    m->mine.n_pids = n < WORKERS_MAX ? n : WORKERS_MAX;
    memcpy(m->mine.pids, pids, m->mine.n_pids * sizeof(*pids));
}

void metrics_set_ended(struct metrics *m)
{
    if (m != NULL) {
        m->mine.input_ended = true;
        m->mine.n_pids = 0; /* the workers have exited */
    }
}

void metrics_restart(struct metrics *m)
{
    if (m != NULL) {
        uint32_t n_pids = m->mine.n_pids;
        int32_t pids[WORKERS_MAX];
        memcpy(pids, m->mine.pids, sizeof(pids));
        memset(&m->mine, 0, sizeof(m->mine));
        metrics_set_pids(m, pids, n_pids);
    }
}

bool metrics_publish(struct metrics *m, bool wait)
{
    if (m == NULL) {
        return true;
    }
    if (wait) {
        pthread_mutex_lock(&m->lock);
    } else if (pthread_mutex_trylock(&m->lock) != 0) {
        return false;
    }
    memcpy(&m->published, &m->mine, sizeof(m->mine));
    pthread_mutex_unlock(&m->lock);
    return true;
}

void metrics_close(struct metrics *m)
{
    if (m == NULL) {
        return;
    }
    stop_daemon(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
