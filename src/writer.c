/*
 * writer.c - what every writer shares (writer.h): the line buffer's trip
 * to the output file and the writer's release.  Writers format; the
 * facts they format come from record.h and stats.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "writer.h"

#include <stdlib.h>

void writer_flush_line(struct writer *w)
{
    if (w->line.len > 0 && fwrite(w->line.data, 1, w->line.len, w->out) != w->line.len) {
        w->failed = true;
    }
    w->line.len = 0;
}

void writer_free(struct writer *w)
{
    capbuf_free(&w->line);
    if (w->release != NULL && w->priv != NULL) {
        w->release(w->priv);
    }
    free(w->priv);
    w->priv = NULL;
}
