/*
 * input.c - opening the run's input: files as one set, or an interface.
 *
 * The command line names either capture files (any number, merged by
 * time) or one interface.  Files are opened, filtered and their link types
 * checked before anything else runs, so an unreadable file or a bad filter
 * is an error before any output exists.  An interface gets the user's
 * filter or the default one (server ports inside VLAN tags too, and IP
 * fragments); with several processes it is opened once per process, every
 * socket joined to one fanout group, all before -Z gives root up.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "input.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "smtp_limits.h"
#include "smtpscope.h"

/* pcap files say their link type up front; pcapng per interface. */
static int check_linktypes(struct input *in, char *err, size_t errlen)
{
    in->linktype_name = "per interface (pcapng)";
    for (size_t i = 0; i < in->files->n; i++) {
        const struct capture *c = &in->files->files[i];
        if (c->linktype < 0) {
            continue;
        }
        if (!decode_linktype_supported(c->linktype)) {
            snprintf(err, errlen, "%.300s: link type %s (%d) is not supported", c->source,
                     capture_linktype_name(c->linktype), c->linktype);
            return SMTPSCOPE_ERR_LINKTYPE;
        }
        in->linktype_name = capture_linktype_name(c->linktype);
    }
    return SMTPSCOPE_OK;
}

static int open_files(struct input *in, const struct options *o, char *err, size_t errlen)
{
    if (in->files == NULL && (in->files = calloc(1, sizeof(*in->files))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    in->source = o->read_paths[0];
    if (o->n_read > 1) {
        snprintf(in->source_text, sizeof(in->source_text), "%.256s and %zu more files",
                 o->read_paths[0], o->n_read - 1);
        in->source = in->source_text;
    }
    int rc = capture_set_open(in->files, o->read_paths, o->n_read, err, errlen);
    if (rc == SMTPSCOPE_OK) {
        rc = check_linktypes(in, err, errlen);
    }
    if (rc == SMTPSCOPE_OK && o->filter != NULL) {
        rc = capture_set_filter(in->files, o->filter, err, errlen);
    }
    return rc;
}

/* One capture of the interface, filtered: the user's filter, or the
 * default one (without its vlan part where the link type has none). */
static int open_socket(struct input *in, const struct options *o, struct capture *c, char *err,
                       size_t errlen)
{
    int mib = o->buffer_mib > 0 ? o->buffer_mib : CAPTURE_BUFFER_MIB_DEFAULT;
    struct capture_live_options lo = {CAPTURE_SNAPLEN, mib << 20, !o->no_promisc};
    int rc = capture_open_live(c, o->device, &lo, err, errlen);
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    if (o->filter != NULL) {
        in->filter = o->filter;
    } else if (in->filter == NULL) {
        in->default_filter = capture_default_filter(o->ports, o->n_ports);
        in->filter = in->default_filter;
        char spare[512];
        if (in->filter != NULL && capture_set_filter_one(c, in->filter, spare, sizeof(spare)) == 0) {
            return SMTPSCOPE_OK;
        }
        char *cut = in->default_filter != NULL ? strstr(in->default_filter, " or (ip[6:2]") : NULL;
        if (cut != NULL) {
            *cut = '\0';
        }
    }
    return in->filter != NULL ? capture_set_filter_one(c, in->filter, err, errlen) : SMTPSCOPE_OK;
}

/* One capture per process, all in one fanout group. */
static int open_fanout(struct input *in, const struct options *o, unsigned n, char *err,
                       size_t errlen)
{
    in->caps = calloc(n, sizeof(*in->caps));
    if (in->caps == NULL) {
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    in->n_caps = n;
    uint16_t group = (uint16_t)(getpid() & 0xFFFF);
    int rc = SMTPSCOPE_OK;
    for (unsigned i = 0; i < n && rc == SMTPSCOPE_OK; i++) {
        rc = open_socket(in, o, &in->caps[i], err, errlen);
        if (rc == SMTPSCOPE_OK) {
            rc = capture_join_fanout(&in->caps[i], group, err, errlen);
        }
    }
    in->cap = in->caps[0];
    return rc;
}

int input_open(struct input *in, const struct options *o, unsigned sockets, char *err,
               size_t errlen)
{
    if (o->device == NULL) {
        in->is_live = false;
        return open_files(in, o, err, errlen);
    }
    in->is_live = true;
    in->source = o->device;
    int rc = sockets > 1 ? open_fanout(in, o, sockets, err, errlen)
                         : open_socket(in, o, &in->cap, err, errlen);
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    if (!decode_linktype_supported(in->cap.linktype)) {
        snprintf(err, errlen, "%s: link type %s (%d) is not supported", in->cap.source,
                 capture_linktype_name(in->cap.linktype), in->cap.linktype);
        return SMTPSCOPE_ERR_LINKTYPE;
    }
    in->linktype_name = capture_linktype_name(in->cap.linktype);
    return SMTPSCOPE_OK;
}

int input_drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errlen, "-Z: no user %s", user);
        return SMTPSCOPE_ERR_USAGE;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, errlen, "-Z %s: %s", user, strerror(errno));
        return SMTPSCOPE_ERR_USAGE;
    }
    return SMTPSCOPE_OK;
}

/* Reading ahead on one CPU only adds switches between the threads, so by
 * default it needs a second CPU this process may run on. */
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

void input_start_reading(struct input *in, const struct options *o, bool many_processes)
{
    if (in->files == NULL) {
        return;
    }
    int threads = many_processes ? 0 : read_threads(o);
    if (threads > 0) {
        capture_set_read_ahead(in->files, threads);
    } else {
        capture_set_map(in->files);
    }
}

struct capture *input_take_sockets(struct input *in, unsigned *n)
{
    struct capture *caps = in->caps;
    *n = in->n_caps;
    in->caps = NULL;
    in->n_caps = 0;
    return caps;
}

bool input_can_read_again(const struct input *in, const struct options *o)
{
    if (in->files == NULL) {
        return false;
    }
    for (size_t i = 0; i < o->n_read; i++) {
        if (strcmp(o->read_paths[i], "-") == 0) {
            return false;
        }
    }
    return true;
}

void input_drops(struct input *in, uint64_t *dropped, uint64_t *if_dropped)
{
    *dropped = *if_dropped = 0;
    if (in->is_live) {
        capture_drops(&in->cap, dropped, if_dropped);
    }
}

void input_close(struct input *in)
{
    capture_close(&in->cap);
    for (unsigned i = 1; in->caps != NULL && i < in->n_caps; i++) {
        capture_close(&in->caps[i]); /* opened, never handed over */
    }
    free(in->caps);
    in->caps = NULL;
    in->n_caps = 0;
    if (in->files != NULL) {
        capture_set_close(in->files);
        free(in->files);
        in->files = NULL;
    }
    free(in->default_filter);
    in->default_filter = NULL;
    in->filter = NULL;
}
