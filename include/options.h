/*
 * options.h - the command line: what the user asked for, parsed and
 * checked, with nothing opened yet.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "pipeline.h"

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
    bool no_progress;         /* --no-progress: no progress line on a terminal */
    bool verify_checksums;
    int max_streams;
    long long free_buffers_above;
    long long prefetch_above;
    long long read_threads; /* -1: READ_THREADS_DEFAULT with a second CPU, else 0 */
    long long idle_timeout_s;
    long long reorder_window_ms;
    long long reorder_packets;
    long order_window;
    uint16_t ports[PIPELINE_PORTS_MAX];
    size_t n_ports;
    uint16_t tls_ports[PIPELINE_PORTS_MAX];
    size_t n_tls_ports;
    bool ports_given;         /* --ports: no looking at other ports */
    long long community_id_seed; /* --community-id-seed */
    bool json_flat;           /* --json-format flat */
    const char *sensor;       /* --sensor (borrowed from argv), or NULL: the host name */
    long long workers;        /* --workers: processes analysing packets (0: one per CPU) */
    const char *metrics_listen;  /* --metrics [ADDR:]PORT, checked */
    long long metrics_linger_s;  /* --metrics-linger: serve this long after the input ends */
    char *filter; /* BPF expression from the remaining arguments; owned */
};

/*
 * Parses argv into o (zeroed first).  Returns -1 to go on, or the exit
 * status to leave with (0 after --help or --version, 1 after a usage
 * error, which it has printed).
 */
int options_parse(int argc, char **argv, struct options *o);

/* The pipeline's configuration the options ask for; records go to sink. */
void options_pipeline_config(const struct options *o, struct pipeline_config *cfg,
                             struct session_sink sink);

#endif
