/*
 * unit_main.c - the unit test runner: every module suite in one SRunner.
 *
 * Run from the repository root (tests/parser and docs/ are found relative
 * to it).  CK_FORK=no runs in-process for gdb; CK_RUN_SUITE / CK_RUN_CASE
 * pick one suite or test case; CK_VERBOSITY=verbose lists every test.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(smtp_parse_suite());
    srunner_add_suite(sr, parse_cases_suite());
    srunner_add_suite(sr, session_suite());
    srunner_add_suite(sr, escape_suite());
    srunner_add_suite(sr, timing_suite());
    srunner_add_suite(sr, verdict_suite());
    srunner_add_suite(sr, knowledge_suite());
    srunner_add_suite(sr, out_html_suite());
    srunner_add_suite(sr, out_jsonl_suite());
    srunner_add_suite(sr, extract_suite());
    srunner_add_suite(sr, pcapfile_suite());
    srunner_add_suite(sr, pcapng_suite());
    srunner_add_suite(sr, pool_suite());
    srunner_add_suite(sr, stream_suite());
    srunner_add_suite(sr, readbuf_suite());
    srunner_add_suite(sr, wild_suite());
    srunner_add_suite(sr, auth_suite());
    srunner_add_suite(sr, flow_suite());
    srunner_add_suite(sr, record_suite());
    srunner_add_suite(sr, community_id_suite());
    srunner_add_suite(sr, msghdr_suite());
    srunner_add_suite(sr, packet_build_suite());
    srunner_add_suite(sr, i18n_suite());
    srunner_add_suite(sr, metrics_suite());
    /* CK_ENV: verbosity comes from CK_VERBOSITY, default normal. */
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    int run = srunner_ntests_run(sr);
    /* The plain closing line every level of make check prints. */
    printf("unit: %d passed, %d failed\n", run - failed, failed);
    srunner_free(sr);
    return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
