/*
 * check_auth.c - the mechanism and user name of an AUTH exchange.
 *
 * The user name comes out of PLAIN (the authcid between the NULs, never
 * the password after them), LOGIN and CRAM-MD5 responses; damaged base64,
 * PLAIN without its NULs and a response longer than the buffer give none;
 * the "Password:" prompt is known in any case.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <string.h>

#include "auth.h"
#include "suites.h"
#include "test_util.h"

static struct span str(const char *s)
{
    return span_make(s, strlen(s));
}

static void assert_user(enum auth_mech mech, const char *b64, const char *want)
{
    uint8_t buf[64];
    struct span user;
    ck_assert_msg(auth_user_of(mech, str(b64), buf, sizeof(buf), &user), "%s", b64);
    ck_assert_uint_eq(user.len, strlen(want));
    ck_assert(memcmp(user.ptr, want, user.len) == 0);
}

START_TEST(test_user_names)
{
    /* "\0alice\0secret", "zid\0bob\0pw": the authcid, never the password. */
    assert_user(AUTH_MECH_PLAIN, "AGFsaWNlAHNlY3JldA==", "alice");
    assert_user(AUTH_MECH_PLAIN, "emlkAGJvYgBwdw==", "bob");
    assert_user(AUTH_MECH_LOGIN, "Y2Fyb2w=", "carol");            /* "carol" */
    assert_user(AUTH_MECH_CRAM, "ZGF2ZSBhYmNkZWY=", "dave");      /* "dave abcdef" */
    assert_user(AUTH_MECH_OTHER, "Y2Fyb2w=", "");
}
END_TEST

START_TEST(test_no_user_name)
{
    uint8_t buf[8];
    struct span user;
    ck_assert(!auth_user_of(AUTH_MECH_LOGIN, str("Y2F*b2w="), buf, sizeof(buf), &user));
    ck_assert(!auth_user_of(AUTH_MECH_PLAIN, str("Y2Fyb2w="), buf, sizeof(buf), &user));
    ck_assert(!auth_user_of(AUTH_MECH_LOGIN, str(""), buf, sizeof(buf), &user));
    /* "abcdefghij" does not fit in 8 bytes. */
    ck_assert(!auth_user_of(AUTH_MECH_LOGIN, str("YWJjZGVmZ2hpag=="), buf, sizeof(buf), &user));
}
END_TEST

START_TEST(test_mechanisms_and_prompts)
{
    ck_assert_int_eq(auth_mech_of(str("plain")), AUTH_MECH_PLAIN);
    ck_assert_int_eq(auth_mech_of(str("LOGIN")), AUTH_MECH_LOGIN);
    ck_assert_int_eq(auth_mech_of(str("Cram-MD5")), AUTH_MECH_CRAM);
    ck_assert_int_eq(auth_mech_of(str("XOAUTH2")), AUTH_MECH_OTHER);
    ck_assert_int_eq(auth_mech_of(str("PLAINX")), AUTH_MECH_OTHER);
    ck_assert(auth_prompt_asks_password(str("UGFzc3dvcmQ6")));  /* "Password:" */
    ck_assert(auth_prompt_asks_password(str("cGFzc3dvcmQ6")));  /* "password:" */
    ck_assert(!auth_prompt_asks_password(str("VXNlcm5hbWU6"))); /* "Username:" */
    ck_assert(!auth_prompt_asks_password(str("")));
}
END_TEST

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_user_names);
    tcase_add_test(tc, test_no_user_name);
    tcase_add_test(tc, test_mechanisms_and_prompts);
    suite_add_tcase(s, tc);
    return s;
}
