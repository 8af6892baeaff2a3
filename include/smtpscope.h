/*
 * smtpscope.h - project-wide version, error codes and exit statuses.
 *
 * Operational errors travel as negative SMTPSCOPE_ERR_* codes; only main.c
 * maps them to exit statuses (documented in docs/smtpscope.1).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SMTPSCOPE_H
#define SMTPSCOPE_H

#define SMTPSCOPE_VERSION "0.1.0"

/* XX(name, value, exit status, text) */
#define SMTPSCOPE_ERR_MAP(XX)                                                  \
    XX(USAGE, -1, 1, "invalid usage")                                          \
    XX(INPUT_OPEN, -2, 2, "cannot open input")                                 \
    XX(INPUT_DAMAGED, -3, 3, "input damaged")                                  \
    XX(LINKTYPE, -4, 4, "unsupported link type")                               \
    XX(OUTPUT, -5, 5, "cannot write output")                                   \
    XX(INTERNAL, -6, 6, "internal error")                                      \
    XX(FILTER, -7, 1, "invalid filter expression")                             \
    XX(EXTRACT, -8, 7, "some messages could not be extracted")

enum smtpscope_err {
    SMTPSCOPE_OK = 0,
#define XX(name, value, status, text) SMTPSCOPE_ERR_##name = (value),
    SMTPSCOPE_ERR_MAP(XX)
#undef XX
};

#endif
