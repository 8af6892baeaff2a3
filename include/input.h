/*
 * input.h - the run's input: capture files or a live interface, opened.
 *
 * Role: between the command line and the packet loop.  Opens every -r
 * file as one time-ordered set (filtered, link types checked), or the -i
 * interface with the filter it needs, as one socket or as one socket per
 * process in an AF_PACKET fanout group; says how the files will be read
 * (ahead on a thread, or mapped); gives up root for -Z; sums the capture
 * sockets' drops.  Errors come back as SMTPSCOPE_ERR_* with the caller's
 * buffer filled; nothing here prints.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef INPUT_H
#define INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "options.h"

struct input {
    struct capture cap;        /* live capture (with fanout: the first socket) */
    struct capture *caps;      /* live with fanout: every socket, caps[0] is cap */
    unsigned n_caps;
    struct capture_set *files; /* offline: every -r file, merged by time */
    bool is_live;
    const char *source;        /* the path, the interface, or source_text */
    const char *linktype_name; /* for the report */
    const char *filter;        /* the live filter in force, or NULL */
    char *default_filter;      /* owned: the default live filter */
    char source_text[320];     /* "a.pcap and N more files" */
};

/* Opens o's input: the files, or the interface with `sockets` captures
 * (more than one: all in one fanout group). */
int input_open(struct input *in, const struct options *o, unsigned sockets, char *err,
               size_t errlen);

/* -Z: becomes `user` (its groups too) once everything needing root is
 * open. */
int input_drop_privileges(const char *user, char *err, size_t errlen);

/* Files: with a core free a thread reading ahead is fastest, with every
 * core analysing mapping them costs least.  Call after forking: children
 * must not inherit the thread. */
void input_start_reading(struct input *in, const struct options *o, bool many_processes);

/* Live with fanout: hands every socket over (the taker closes all but
 * caps[0], which stays in `cap`); NULL otherwise. */
struct capture *input_take_sockets(struct input *in, unsigned *n);

/* True when the input can be read again from its start (files, none of
 * them standard input). */
bool input_can_read_again(const struct input *in, const struct options *o);

/* Drops counted by this process's own capture socket. */
void input_drops(struct input *in, uint64_t *dropped, uint64_t *if_dropped);

/* Closes whatever is open; the struct can be opened again. */
void input_close(struct input *in);

#endif
