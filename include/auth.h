/*
 * auth.h - what an SMTP AUTH exchange (RFC 4954) may tell: the mechanism
 * and the user name, never a secret.
 *
 * Role: pure helpers for the session (bytes in, facts out; no state, no
 * allocation): the mechanism named by an AUTH command, the user name in a
 * client's base64 response for PLAIN (RFC 4616), LOGIN and CRAM-MD5
 * (RFC 2195), and whether a server's 334 prompt asks for a password.
 * Decoded bytes live in the caller's buffer, which the caller wipes.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

enum auth_mech { AUTH_MECH_NONE = 0, AUTH_MECH_PLAIN, AUTH_MECH_LOGIN, AUTH_MECH_CRAM, AUTH_MECH_OTHER };

/* The mechanism a name stands for (case-insensitive); OTHER if unknown. */
enum auth_mech auth_mech_of(struct span name);

/*
 * The user name in one base64 client response of mechanism mech, decoded
 * into buf (cap bytes): *user points into buf.  False when the response
 * is not base64, does not fit, or holds no user name (PLAIN without its
 * two NULs, a mechanism that carries none).
 */
bool auth_user_of(enum auth_mech mech, struct span b64, uint8_t *buf, size_t cap,
                  struct span *user);

/* Whether a 334's text is the base64 of "Password:" (RFC 4954 AUTH LOGIN's
 * usual second prompt; only its first 40 characters are looked at). */
bool auth_prompt_asks_password(struct span text);

#endif
