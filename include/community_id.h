/*
 * community_id.h - the Community ID (version 1) of a TCP connection.
 *
 * Role: the flow identifier Zeek, Suricata, Arkime and Wireshark also
 * write, so that a session record joins their records of the same
 * connection.  Per the published specification: SHA-1 over the seed,
 * the two addresses and ports (the lesser endpoint first, so both
 * directions agree), the protocol and a pad byte; base64, after "1:".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COMMUNITY_ID_H
#define COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* "1:" + 28 characters of base64 + NUL. */
#define COMMUNITY_ID_LEN 31

/* Writes the Community ID of a TCP connection between a and b (both IPv4
 * or both IPv6, either order) into out (COMMUNITY_ID_LEN bytes). */
void community_id_tcp(const struct record_endpoint *a, const struct record_endpoint *b,
                      uint16_t seed, char out[COMMUNITY_ID_LEN]);

#endif
