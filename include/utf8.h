/*
 * utf8.h - UTF-8 well-formedness (RFC 3629), shared by the session (which
 * flags invalid text) and the writers (which replace it).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed sequence at p[0..n), or 0 if there is
 * none: no overlongs, surrogates or code points above U+10FFFF.  n > 0. */
size_t utf8_seq_len(const uint8_t *p, size_t n);
/* True when p[0..n) is entirely well-formed UTF-8. */
bool utf8_valid(const uint8_t *p, size_t n);

#endif
