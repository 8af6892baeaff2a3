/*
 * explain.h - `smtpscope explain`: reply codes, enhanced codes and close
 * labels in plain words.
 *
 * Role: a subcommand beside the capture pipeline, fed only by the tables
 * of knowledge.h and verdict.h.  It prints text that is entirely ours
 * (arguments are echoed only after they were recognised as codes or
 * names), so nothing from a capture or the command line reaches the
 * terminal unescaped.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef EXPLAIN_H
#define EXPLAIN_H

/*
 * Runs `explain` with argv[0] = "explain" and argv[1..argc) the things to
 * explain: basic codes ("221"), enhanced codes ("5.7.1"), close labels or
 * flags ("normal_quit").  With two or more basic codes, a "Key
 * differences" section follows.  Writes to stdout, errors to stderr.
 * Returns the exit status: 0 when everything was known, 1 for usage
 * errors or when any argument was not recognised.
 */
int explain_main(int argc, char **argv);

#endif
