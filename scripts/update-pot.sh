#!/usr/bin/env bash
# Writes the message template (po/smtpscope.pot, or the file given) from
# the sources: every _() and N_() string in include/*.h and src/*.c (and
# the second argument of the HTML writer's put_l() and put_t()), with
# the TRANSLATORS: comments above them.  tests/i18n/run.sh runs it too and
# compares with the committed template, so the two never drift apart.
set -eu
cd "$(dirname "$0")/.."
out=${1:-po/smtpscope.pot}
version=$(sed -n 's/^#define SMTPSCOPE_VERSION "\(.*\)"/\1/p' include/smtpscope.h)
# Sorted file list: the template must not depend on the directory order.
# shellcheck disable=SC2046
LC_ALL=C xgettext --from-code=UTF-8 --language=C --keyword=_ --keyword=N_ --keyword=put_l:2 --keyword=put_t:2 \
    --add-comments=TRANSLATORS: --package-name=smtpscope --package-version="$version" \
    --msgid-bugs-address="smtpscope maintainers" --sort-by-file --no-location \
    -o "$out" $(LC_ALL=C ls include/*.h src/*.c)
