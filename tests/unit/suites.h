/*
 * suites.h - one Check suite per module; unit_main.c runs them all in one
 * SRunner.  Each check_<module>.c defines its <module>_suite().
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SUITES_H
#define SUITES_H

#include <check.h>

Suite *smtp_parse_suite(void);
Suite *parse_cases_suite(void);
Suite *session_suite(void);
Suite *escape_suite(void);
Suite *timing_suite(void);
Suite *verdict_suite(void);
Suite *knowledge_suite(void);
Suite *out_html_suite(void);
Suite *out_jsonl_suite(void);
Suite *extract_suite(void);
Suite *pcapfile_suite(void);
Suite *pcapng_suite(void);
Suite *pool_suite(void);
Suite *stream_suite(void);
Suite *readbuf_suite(void);
Suite *wild_suite(void);
Suite *auth_suite(void);
Suite *flow_suite(void);
Suite *record_suite(void);
Suite *community_id_suite(void);
Suite *msghdr_suite(void);
Suite *packet_build_suite(void);
Suite *i18n_suite(void);
Suite *metrics_suite(void);

#endif
