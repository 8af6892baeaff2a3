/*
 * verdict.c - the close-label rules and the label and flag tables.
 *
 * Role: turns the facts a session gathered into exactly one close label,
 * following docs/verdicts.md rule by rule (first match wins).  Pure: no
 * I/O, no wire bytes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "verdict.h"

#include <string.h>

static const struct verdict_info label_table[] = {
#define XX(id, name, sev, codes, expl, check) {name, sev, codes, expl, check},
    VERDICT_LABEL_MAP(XX)
#undef XX
};

static const struct verdict_info flag_table[] = {
#define XX(id, name, sev, codes, expl, check) {name, sev, codes, expl, check},
    VERDICT_FLAG_MAP(XX)
#undef XX
};

const struct verdict_info *verdict_label_info(enum verdict_label label)
{
    if ((unsigned)label >= VERDICT_LABEL_COUNT) {
        label = VERDICT_TRUNCATED_CAPTURE;
    }
    return &label_table[label];
}

const struct verdict_info *verdict_flag_info(enum verdict_flag flag)
{
    if ((unsigned)flag >= VERDICT_FLAG_COUNT) {
        flag = VERDICT_FLAG_UNSOLICITED_REPLY;
    }
    return &flag_table[flag];
}

enum verdict_label verdict_classify(const struct verdict_facts *f)
{
    bool ended = f->saw_fin || f->saw_rst;
    if (!ended) {
        return VERDICT_TRUNCATED_CAPTURE;
    }
    if (f->one_sided) {
        return VERDICT_ONE_SIDED_CAPTURE;
    }
    if (f->is_tls) {
        return VERDICT_TLS_OPAQUE;
    }
    if (f->saw_421) {
        return VERDICT_SERVER_421;
    }
    if (f->saw_221_not_quit_in_txn) {
        return VERDICT_SERVER_221_MID_TRANSACTION;
    }
    if (f->saw_221_not_quit_no_txn) {
        return VERDICT_SERVER_221_UNSOLICITED;
    }
    if (f->quit_answered_221 && f->client_data_after_221) {
        return VERDICT_CLIENT_DATA_AFTER_221;
    }
    if (f->quit_answered_221 && f->n_mail_tried > 0 && f->n_messages_accepted == 0) {
        return VERDICT_SERVER_221_AFTER_NO_250;
    }
    if (f->quit_answered_221) {
        return VERDICT_NORMAL_QUIT;
    }
    if (f->saw_quit) {
        return VERDICT_QUIT_NO_221;
    }
    if (f->saw_rst) {
        return VERDICT_RST;
    }
    return VERDICT_FIN_WITHOUT_QUIT;
}


static enum verdict_severity severity_of(const char *sev)
{
    if (strcmp(sev, "error") == 0) {
        return VERDICT_SEVERITY_ERROR;
    }
    if (strcmp(sev, "warning") == 0) {
        return VERDICT_SEVERITY_WARNING;
    }
    return strcmp(sev, "info") == 0 ? VERDICT_SEVERITY_INFO : VERDICT_SEVERITY_OK;
}

enum verdict_severity verdict_label_severity(unsigned label)
{
    return severity_of(verdict_label_info((enum verdict_label)label)->severity);
}

enum verdict_severity verdict_flag_severity(unsigned flag)
{
    return severity_of(verdict_flag_info((enum verdict_flag)flag)->severity);
}

bool verdict_label_is_abnormal(unsigned label)
{
    return verdict_label_severity(label) >= VERDICT_SEVERITY_WARNING;
}

const struct verdict_info *verdict_reason(unsigned label, uint64_t flags)
{
    const struct verdict_info *worst = NULL;
    enum verdict_severity worst_sev = VERDICT_SEVERITY_INFO;
    if (verdict_label_is_abnormal(label)) {
        worst = verdict_label_info((enum verdict_label)label);
        worst_sev = verdict_label_severity(label);
    }
    /* Only the set bits: most sessions have none. */
    for (uint64_t rest = flags; rest != 0; rest &= rest - 1) {
        unsigned f = (unsigned)__builtin_ctzll(rest);
        if (f >= VERDICT_FLAG_COUNT) {
            break;
        }
        enum verdict_severity sev = verdict_flag_severity(f);
        if (sev > worst_sev) {
            worst = verdict_flag_info((enum verdict_flag)f);
            worst_sev = sev;
        }
    }
    return worst;
}

bool verdict_is_abnormal(unsigned label, uint64_t flags)
{
    return verdict_reason(label, flags) != NULL;
}
