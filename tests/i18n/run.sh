#!/usr/bin/env bash
# tests/i18n/run.sh - the reader's language: message catalogues and
# translated output.
#
#   1. every catalogue (po/*.po) translates every message of the template,
#      with nothing fuzzy or untranslated, and compiles with msgfmt --check;
#   2. the template is up to date: regenerated from the sources it equals
#      po/smtpscope.pot apart from its creation date;
#   3. `smtpscope --lang fr|tr|zh explain ...` matches the goldens in
#      tests/i18n/expected (TESTLIST), the same text comes from LANG,
#      LANGUAGE and LC_MESSAGES (the fr_FR.UTF-8 locale need not be
#      generated), and `--lang en` or the C locale gives the English goldens
#      of tests/report/explain;
#   4. translated output is valid UTF-8 and fits 78 columns; --help is
#      translated, fits 80 columns and keeps every option and default of
#      the English text; so are the command line's errors (naming the
#      option, exit status 1 as in English);
#   5. the text summary is translated (LANG=fr_FR.UTF-8 and --lang);
#   6. JSON is byte-identical whatever the language, for every capture;
#      bytes from the wire stay escaped in translated output;
#   7. the HTML report carries <html lang>, passes the report linter and
#      has exactly the English report's elements in every language;
#   8. the same with fr_FR.UTF-8 and tr_TR.UTF-8 really generated (LOCPATH):
#      translated text, and JSON still identical (decimal points, case).
#
# usage: tests/i18n/run.sh [SMTPSCOPE] [--update]
#   --update rewrites tests/i18n/expected/*.txt from the binary's output.
# Prints "N passed, N failed"; exit 1 on any failure.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=./smtpscope
UPDATE=0
for a in "$@"; do
    case $a in
    --update) UPDATE=1 ;;
    *) BIN=$a ;;
    esac
done
export TZ=UTC
unset LANGUAGE LC_ALL LC_MESSAGES LANG
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LANGS="fr tr zh_CN"

for tool in msgfmt msgcmp xgettext; do
    if ! command -v "$tool" >/dev/null; then
        echo "skip: $tool not installed (gettext package; make deps)"
        echo "0 passed, 0 failed"
        exit 0
    fi
done

# ---- 1. every catalogue complete ----------------------------------------
for l in $LANGS; do
    po=po/$l.po
    if ! stats=$(LC_ALL=C msgfmt --check --statistics -o "$WORK/$l.mo" "$po" 2>&1); then
        bad "$po does not compile: $stats"
        continue
    fi
    case $stats in
    *fuzzy* | *untranslated*) bad "$po: $stats" ;;
    *" translated message"*) ok ;;
    *) bad "$po: unexpected msgfmt statistics: $stats" ;;
    esac
    # Every message of the template has a translation here (msgcmp counts
    # fuzzy and empty ones as missing).
    if LC_ALL=C msgcmp "$po" po/smtpscope.pot >"$WORK/msgcmp" 2>&1; then
        ok
    else
        bad "$po lacks translations of the template:"
        head -10 "$WORK/msgcmp"
    fi
    # And holds nothing the template does not (no stale or obsolete entries).
    n_po=$(LC_ALL=C msgattrib --no-obsolete "$po" | grep -c '^msgid ')
    n_pot=$(grep -c '^msgid ' po/smtpscope.pot)
    if [ "$n_po" = "$n_pot" ] && ! grep -q '^#~' "$po"; then
        ok
    else
        bad "$po has $n_po messages (obsolete ones included: $(grep -c '^#~ msgid' "$po")), the template $n_pot"
    fi
done

# ---- 2. the template is up to date -------------------------------------
if scripts/update-pot.sh "$WORK/fresh.pot" 2>"$WORK/xgettext.log"; then
    if diff -u <(grep -v '^"POT-Creation-Date:' po/smtpscope.pot) \
        <(grep -v '^"POT-Creation-Date:' "$WORK/fresh.pot") >"$WORK/pot.diff"; then
        ok
    else
        bad "po/smtpscope.pot is stale: run make pot (then make po-update and translate)"
        head -30 "$WORK/pot.diff"
    fi
else
    bad "xgettext failed: $(head -3 "$WORK/xgettext.log")"
fi

# ---- 3. explain goldens, per language and per way of asking -------------
tag_of() { case $1 in zh_CN) echo zh ;; *) echo "$1" ;; esac; }
while read -r name args; do
    case $name in '' | '#'*) continue ;; esac
    for l in $LANGS; do
        tag=$(tag_of "$l")
        want=tests/i18n/expected/$tag-$name.txt
        # shellcheck disable=SC2086
        "$BIN" --lang "$tag" explain $args >"$WORK/out" 2>&1
        if [ "$UPDATE" = 1 ]; then
            cp "$WORK/out" "$want"
        fi
        if diff -u "$want" "$WORK/out" >"$WORK/diff" 2>&1; then
            ok
        else
            bad "--lang $tag explain $args differs from $want"
            head -20 "$WORK/diff"
        fi
    done
done <tests/i18n/TESTLIST

# The same French text, however the language is chosen; fr_FR.UTF-8 is
# usually not a generated locale here, which is the point.
want=tests/i18n/expected/fr-221-500.txt
check_env() {
    local envs=$1 opts=$2
    # shellcheck disable=SC2086
    env $envs "$BIN" $opts explain 221 500 >"$WORK/out" 2>&1
    if cmp -s "$want" "$WORK/out"; then
        ok
    else
        bad "explain 221 500 with $envs $opts is not the French golden"
    fi
}
check_env "LANG=fr_FR.UTF-8" ""
check_env "LC_MESSAGES=fr_FR.UTF-8" ""
check_env "LC_ALL=fr_FR.UTF-8" ""
check_env "LANGUAGE=fr LANG=C.UTF-8" ""
check_env "LANGUAGE=fr:tr LANG=en_GB.UTF-8" ""
check_env "LC_ALL=C" "--lang fr"
check_env "LANG=tr_TR.UTF-8" "--lang=fr_FR"
# English: the C locale, LANGUAGE ignored under it (GNU rule), --lang en,
# and a language with no catalogue.
for how in "LC_ALL=C|" "LANGUAGE=fr LC_ALL=C|" "LANG=fr_FR.UTF-8|--lang en" "LANG=de_DE.UTF-8|"; do
    # shellcheck disable=SC2086
    env ${how%|*} "$BIN" ${how#*|} explain 221 >"$WORK/out" 2>&1
    if cmp -s tests/report/explain/221.txt "$WORK/out"; then ok; else bad "explain 221 with ${how%|*} ${how#*|} is not English"; fi
done
# A language without a catalogue: English, and a warning for --lang.
"$BIN" --lang de explain 221 >"$WORK/out" 2>"$WORK/err"
if cmp -s tests/report/explain/221.txt "$WORK/out" && grep -q 'no translation for de' "$WORK/err"; then
    ok
else
    bad "--lang de: not English with a warning"
fi
"$BIN" --lang 'fr;rm' explain 221 >/dev/null 2>"$WORK/err"
if [ $? = 1 ] && grep -q -- '--lang wants' "$WORK/err"; then ok; else bad "--lang with a bad value not refused"; fi

# ---- 4. valid UTF-8 that fits the terminal ----------------------------
for l in $LANGS; do
    tag=$(tag_of "$l")
    all_codes=$("$BIN" explain 2xx 3xx 4xx 5xx | sed -n 's/^    \([0-9][0-9][0-9]\)  .*/\1/p' | tr '\n' ' ')
    # shellcheck disable=SC2086
    "$BIN" --lang "$tag" explain $all_codes 5.7.1 X.1.1 4.4.7 normal_quit rst server_421 \
        unsolicited_reply bare_lf_in_data 299 5.9.9 nonsense >"$WORK/all" 2>&1
    if python3 - "$WORK/all" <<'PY'; then ok; else bad "--lang $tag explain: invalid UTF-8 or a line over 78 columns"; fi
import sys, unicodedata
data = open(sys.argv[1], 'rb').read()
text = data.decode('utf-8')          # raises on invalid UTF-8
bad = 0
for line in text.split('\n'):
    if line.startswith('smtpscope explain:'):
        continue                     # one-line error messages are not wrapped
    cols = sum(2 if unicodedata.east_asian_width(c) in 'WF' else 1 for c in line)
    if cols > 78 or any(unicodedata.category(c) == 'Cc' for c in line):
        print('  ', cols, line)
        bad += 1
sys.exit(1 if bad else 0)
PY
done

# ---- 4b. --help in every language ---------------------------------------
"$BIN" --lang en --help >"$WORK/help.en" 2>&1
for l in $LANGS; do
    tag=$(tag_of "$l")
    "$BIN" --lang "$tag" --help >"$WORK/help.$l" 2>&1
    if python3 - "$WORK/help.en" "$WORK/help.$l" <<'PY'; then ok; else bad "--lang $tag --help: see above"; fi
import re, sys, unicodedata
en = open(sys.argv[1], encoding='utf-8').read()
tr = open(sys.argv[2], 'rb').read().decode('utf-8')   # raises on invalid UTF-8
problems = []
if tr == en:
    problems.append('not translated')
for name, pat in (('option', r'(?<![\w-])--?[A-Za-z][\w-]*'), ('number', r'\b\d+\b')):
    missing = sorted(set(re.findall(pat, en)) - set(re.findall(pat, tr)))
    if missing:
        problems.append('%ss missing: %s' % (name, ' '.join(missing)))
for line in tr.split('\n'):
    cols = sum(2 if unicodedata.east_asian_width(c) in 'WF' else 1 for c in line)
    if cols > 80:
        problems.append('%d columns: %s' % (cols, line))
for p in problems:
    print('  ', p)
sys.exit(1 if problems else 0)
PY
done

# ---- 4c. the command line's errors ------------------------------------
for l in $LANGS; do
    tag=$(tag_of "$l")
    for args in "-r x -c 0|-c" "-r x -p|-p" "-r x --json-format csv --json -|--json-format" \
                "-r x --workers 0|--workers"; do
        opts=${args%|*}
        name=${args#*|}
        # shellcheck disable=SC2086
        "$BIN" --lang en $opts >/dev/null 2>"$WORK/err.en"
        st_en=$?
        # shellcheck disable=SC2086
        "$BIN" --lang "$tag" $opts >/dev/null 2>"$WORK/err.$l"
        st=$?
        if [ $st = 1 ] && [ $st_en = 1 ] && ! cmp -s "$WORK/err.en" "$WORK/err.$l" &&
            grep -q -- "^smtpscope: .*$name" "$WORK/err.$l"; then
            ok
        else
            bad "--lang $tag $opts: exit $st, $(head -c 200 "$WORK/err.$l")"
        fi
    done
done

# ---- 5. the text summary speaks the language ---------------------------
SUMMARY_PCAP=pcaps/real-221-mid-transaction.pcap
env LANG=fr_FR.UTF-8 "$BIN" -r "$SUMMARY_PCAP" >"$WORK/fr.txt" 2>&1
env LC_ALL=C "$BIN" -r "$SUMMARY_PCAP" >"$WORK/en.txt" 2>&1
for l in $LANGS; do
    tag=$(tag_of "$l")
    "$BIN" --lang "$tag" -r "$SUMMARY_PCAP" >"$WORK/$tag.lang.txt" 2>&1
done
if ! cmp -s "$WORK/fr.txt" "$WORK/fr.lang.txt"; then
    bad "summary: LANG=fr_FR.UTF-8 and --lang fr differ"
elif cmp -s "$WORK/fr.txt" "$WORK/en.txt"; then
    bad "summary: LANG=fr_FR.UTF-8 printed the English summary"
else
    ok
fi
# Translated words that must be there: the summary's headings.
check_words() {
    local file=$1 what=$2
    shift 2
    for w in "$@"; do
        if ! grep -qF -- "$w" "$file"; then
            bad "summary $what: no \"$w\""
            return
        fi
    done
    ok
}
check_words "$WORK/fr.txt" fr "Fermetures par étiquette" "Sessions anormales" "Le serveur a envoyé un 221"
check_words "$WORK/tr.lang.txt" tr "Etikete göre kapanışlar" "Anormal oturumlar" "Sunucu, bir posta işlemi açıkken"
check_words "$WORK/zh.lang.txt" zh "按标签统计的关闭方式" "异常会话" "服务器发送了一个并非回答 QUIT 的 221"
# Identifiers stay as they are: the close label appears untranslated.
check_words "$WORK/fr.txt" "fr label" server_221_mid_transaction

# ---- 6. JSON identical in every language; wire bytes still escaped ------
n_json=0
json_bad=""
for pcap in pcaps/*.pcap pcaps/*.pcapng; do
    [ -f "$pcap" ] || continue
    LC_ALL=C "$BIN" -r "$pcap" --json - -q >"$WORK/en.jsonl" 2>/dev/null
    for how in "--lang fr" "--lang tr" "--lang zh"; do
        # shellcheck disable=SC2086
        "$BIN" $how -r "$pcap" --json - -q >"$WORK/x.jsonl" 2>/dev/null
        cmp -s "$WORK/en.jsonl" "$WORK/x.jsonl" || json_bad="$json_bad $(basename "$pcap")($how)"
    done
    env LANG=fr_FR.UTF-8 LC_MESSAGES=zh_CN.UTF-8 "$BIN" -r "$pcap" --json - -q >"$WORK/x.jsonl" 2>/dev/null
    cmp -s "$WORK/en.jsonl" "$WORK/x.jsonl" || json_bad="$json_bad $(basename "$pcap")(env)"
    n_json=$((n_json + 1))
done
if [ -z "$json_bad" ] && [ "$n_json" -gt 0 ]; then
    ok
else
    bad "JSON changes with the language:$json_bad"
fi
# Bytes from the wire reach the terminal escaped in every language exactly
# as in English (escape_terminal(), untouched by translation): every
# character of a translated summary that is not printable ASCII must come
# from that language's catalogue.
for l in $LANGS; do
    tag=$(tag_of "$l")
    : >"$WORK/sum.$tag"
    for pcap in pcaps/*.pcap pcaps/*.pcapng; do
        [ -f "$pcap" ] || continue
        "$BIN" --lang "$tag" -r "$pcap" >>"$WORK/sum.$tag" 2>&1
    done
    if python3 - "$WORK/sum.$tag" "po/$l.po" <<'PY'; then ok; else bad "--lang $tag summaries: a character that is neither printable ASCII nor from po/$l.po"; fi
import sys
out = open(sys.argv[1], 'rb').read().decode('utf-8')   # raises on invalid UTF-8
catalogue = set(open(sys.argv[2], encoding='utf-8').read())
stray = {c for c in out if not (' ' <= c <= '~' or c == '\n') and c not in catalogue}
if stray:
    print('   stray characters:', ' '.join('U+%04X' % ord(c) for c in sorted(stray)))
sys.exit(1 if stray else 0)
PY
done

# ---- 7. the HTML report: its lang, its words, the same markup ------------
# For every capture and language: <html lang> names the language, the
# report passes the report level's linter, and its sequence of elements is
# exactly the English report's (translations change text, never markup).
for l in $LANGS; do
    tag=$(tag_of "$l")
    case $tag in zh) want_lang=zh-CN words="证据保管链|会话如何结束" ;;
    fr) want_lang=fr words="Chaîne de traçabilité|Comment les sessions se sont terminées" ;;
    tr) want_lang=tr words="Delil zinciri|Oturumlar nasıl bitti" ;;
    esac
    html_bad=""
    for pcap in pcaps/*.pcap pcaps/*.pcapng; do
        [ -f "$pcap" ] || continue
        name=$(basename "$pcap")
        env LC_ALL=C "$BIN" -q -r "$pcap" --report "$WORK/en.html" >/dev/null 2>&1
        "$BIN" --lang "$tag" -q -r "$pcap" --report "$WORK/x.html" >/dev/null 2>&1
        if ! grep -q "<html lang=\"$want_lang\">" "$WORK/x.html"; then
            html_bad="$html_bad $name(lang)"
        elif ! tests/report/html_lint.py "$WORK/x.html" --min-svg 0 >"$WORK/lint" 2>&1; then
            html_bad="$html_bad $name(lint)"
        elif ! python3 - "$WORK/en.html" "$WORK/x.html" "$words" <<'PY'; then html_bad="$html_bad $name(markup)"; fi
import re, sys
def tags(path):
    text = open(path, encoding='utf-8').read()
    return [m.lower() for m in re.findall(r'<\s*(/?[A-Za-z][A-Za-z0-9]*)', text)], text
en, _ = tags(sys.argv[1])
tr, text = tags(sys.argv[2])
if en != tr:
    for i, (a, b) in enumerate(zip(en, tr)):
        if a != b:
            print('   element', i, a, '!=', b)
            break
    sys.exit(1)
sys.exit(0 if all(w in text for w in sys.argv[3].split('|')) else 1)
PY
    done
    if [ -z "$html_bad" ]; then ok; else bad "--lang $tag reports:$html_bad"; fi
done

# ---- 8. with the locales really generated ---------------------------------
# Built here with localedef into a private LOCPATH: the ordinary path where
# setlocale() succeeds.  Only LC_MESSAGES may follow it: a French LC_NUMERIC
# would write "0,021" into the JSON, a Turkish LC_CTYPE folds "i" to a
# dotted capital and would break case-insensitive SMTP verbs.
LOC=$WORK/locales
mkdir -p "$LOC"
if command -v localedef >/dev/null &&
    localedef -i fr_FR -f UTF-8 "$LOC/fr_FR.UTF-8" >/dev/null 2>&1 &&
    localedef -i tr_TR -f UTF-8 "$LOC/tr_TR.UTF-8" >/dev/null 2>&1; then
    for l in fr tr; do
        env LOCPATH="$LOC" LC_ALL=${l}_$(echo $l | tr a-z A-Z).UTF-8 "$BIN" explain 221 500 >"$WORK/out" 2>&1
        if cmp -s "tests/i18n/expected/$l-221-500.txt" "$WORK/out"; then
            ok
        else
            bad "explain 221 500 under a generated ${l} locale is not the $l golden"
        fi
    done
    env LOCPATH="$LOC" LC_ALL=fr_FR.UTF-8 "$BIN" -r "$SUMMARY_PCAP" >"$WORK/fr.real.txt" 2>&1
    if cmp -s "$WORK/fr.real.txt" "$WORK/fr.lang.txt"; then
        ok
    else
        bad "summary under a generated fr_FR.UTF-8 differs from --lang fr"
    fi
    json_bad=""
    for pcap in pcaps/*.pcap pcaps/*.pcapng; do
        [ -f "$pcap" ] || continue
        env LC_ALL=C "$BIN" -r "$pcap" --json - -q >"$WORK/en.jsonl" 2>/dev/null
        for loc in fr_FR.UTF-8 tr_TR.UTF-8; do
            env LOCPATH="$LOC" LC_ALL=$loc "$BIN" -r "$pcap" --json - -q >"$WORK/x.jsonl" 2>/dev/null
            cmp -s "$WORK/en.jsonl" "$WORK/x.jsonl" || json_bad="$json_bad $(basename "$pcap")($loc)"
        done
    done
    if [ -z "$json_bad" ]; then ok; else bad "JSON changes under a generated locale:$json_bad"; fi
else
    echo "skip: generated-locale checks: localedef or the fr_FR/tr_TR locale sources are missing"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
