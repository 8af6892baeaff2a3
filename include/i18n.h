/*
 * i18n.h - the reader's language: GNU gettext for the text people read.
 *
 * Role: picks the message catalogue once at start-up (--lang, or the usual
 * LANGUAGE, LC_ALL, LC_MESSAGES and LANG) and translates our own sentences
 * at the point where a writer formats them: the knowledge base, close-label
 * and flag explanations, `explain`, the text summary and the HTML report.
 * Tables keep their English text (marked with N_() so xgettext finds it);
 * _() looks a string up.  Anything without a translation stays English.
 *
 * What never changes with the language: JSON (field names and values),
 * label and flag identifiers, numbers (only LC_MESSAGES is taken from the
 * environment, never LC_NUMERIC or LC_TIME), and bytes from the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef I18N_H
#define I18N_H

#include <stdbool.h>
#include <stddef.h>

/* The text domain: po/<lang>.po compiles to <localedir>/<lang>/LC_MESSAGES/smtpscope.mo. */
#define I18N_DOMAIN "smtpscope"

/*
 * Marks a string literal for translation without translating it (tables,
 * initialisers); it expands to the literal itself.
 */
#define N_(s) s
/* Translates one of our own strings (see i18n_text). */
#define _(s) i18n_text(s)

/*
 * Chooses the catalogue.  lang (from --lang, may be NULL) overrides the
 * environment; "en" asks for English.  Neither needs the system locale for
 * that language to be installed: when it is missing, messages are still
 * translated (the catalogue is UTF-8 and so is the output).  Looks for
 * catalogues next to the binary in the build tree (build/locale) first,
 * then under LOCALEDIR.  Returns false when lang was given and no catalogue
 * exists for it (English is used; the caller may warn).  Call once, before
 * any output; without a call every string stays English.
 */
bool i18n_init(const char *lang);

/*
 * The translation of msgid in the chosen catalogue, or msgid itself when
 * there is none (or msgid is empty: gettext would return the catalogue
 * header).  The result is UTF-8, static, and valid for the whole run.
 */
const char *i18n_text(const char *msgid) __attribute__((format_arg(1)));

/*
 * The BCP 47 tag of the language the messages are in ("en", "fr", "tr",
 * "zh-CN"), for the HTML report's <html lang>.  It comes from the
 * catalogue itself, so a language without a catalogue reports "en".
 */
const char *i18n_lang_tag(void);

/*
 * One character of our own UTF-8 text at p (NUL-terminated): returns its
 * length in bytes and sets the columns it takes on a terminal (2 for East
 * Asian wide characters, else 1) and whether it is wide.  A malformed byte
 * counts as one narrow character.
 */
size_t i18n_char_at(const char *p, unsigned *cols, bool *is_wide);

/* Terminal columns of a NUL-terminated UTF-8 string of ours. */
unsigned i18n_columns(const char *s);

/*
 * Wide (CJK) punctuation at p that closes what precedes it ("，", "。",
 * "）"...) and so never starts a line; and punctuation that opens what
 * follows it ("（", "「"...) and so never ends one.
 */
bool i18n_closes_wide(const char *p);
bool i18n_opens_wide(const char *p);

/*
 * Whether a line of our own text may break between the character at prev
 * and the one right after it at p, with no space there: Chinese has no
 * spaces between words, so a line may break next to any wide character,
 * never before closing punctuation or after opening punctuation.  Breaks
 * at spaces are the caller's.
 */
bool i18n_may_break_between(const char *prev, const char *p);

/*
 * Length in bytes of the first sentence of text, its full stop included:
 * ". " in alphabetic scripts, "。" in Chinese; all of it when it has one
 * sentence.
 */
size_t i18n_first_sentence(const char *text);

/*
 * The value of the last "--lang X" or "--lang=X" before a "--" in argv, or
 * NULL; "" for a --lang with no value.  argv is not changed: main() looks
 * first so that --lang works before `explain` as well as with the capture
 * options, which skip it.
 */
const char *i18n_find_lang_option(int argc, char **argv);

/*
 * The index of the first argument at or after i that is not a --lang
 * option (with its value), or argc.
 */
int i18n_skip_lang_options(int argc, char **argv, int i);

#endif
