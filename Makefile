# smtpscope - SMTP session dissector for packet captures.
#
#   make            build ./smtpscope
#   make run        install missing packages, analyse a bundled capture
#   make check      install missing packages, run every test level
#                   (LEVELS="unit golden": only those)
#   make check-fresh  make run and make check in a fresh Debian 12 root
#   make bench      benchmark against libpcap, libnids and tshark
#   make valgrind   leak check over every capture in pcaps/
#   make install    binary, man page and message catalogues under PREFIX
#                   (/usr/local), DESTDIR too
#   make fuzz       libFuzzer harnesses (clang)
#   make pot        regenerate po/smtpscope.pot; make po-update merges it into po/*.po
#   make clean

CC      ?= cc
CFLAGS  ?= -O2 -g -flto=auto
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wmissing-prototypes -Wstrict-prototypes
# GMime (MIME parsing for --extract) brings glib; its headers are not ours
# to warn about, so they come in as system headers.
GMIME_CFLAGS := $(shell pkg-config --cflags gmime-3.0 2>/dev/null | sed 's/-I/-isystem /g')
GMIME_LIBS := $(shell pkg-config --libs gmime-3.0 2>/dev/null || echo -lgmime-3.0 -lgobject-2.0 -lglib-2.0)
# Installed message catalogues; a binary run from the build tree uses
# build/locale instead (src/i18n.c).
PREFIX  ?= /usr/local
LOCALEDIR ?= $(PREFIX)/share/locale
# libmicrohttpd serves --metrics; its flags, like GMime's, are read only
# once deps has installed it (see run and check below).
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null | sed 's/-I/-isystem /g')
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
CPPFLAGS += -Iinclude -D_DEFAULT_SOURCE $(GMIME_CFLAGS) $(MHD_CFLAGS) -DLOCALEDIR='"$(LOCALEDIR)"'
STD     := -std=gnu11
LDLIBS  := -lnids -lpcap -lnettle -lz -llzma -lzstd $(GMIME_LIBS) $(MHD_LIBS) -pthread
ifdef WERROR
WARN += -Werror
endif

SRC     := $(wildcard src/*.c)
OBJ     := $(SRC:src/%.c=build/%.o)
LIB_SRC := $(filter-out src/main.c,$(SRC))
LIB_OBJ := $(LIB_SRC:src/%.c=build/%.o)
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_OBJ := $(SRC:src/%.c=build/asan/%.o)
ASAN_LIB_OBJ := $(LIB_SRC:src/%.c=build/asan/%.o)

TEST_SRC := $(wildcard tests/unit/*.c)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

.PHONY: all run check unit golden corpus live bench valgrind lint clean deps golden-update install uninstall check-fresh \
	pot po-update install-locale

# Languages of the message catalogues (po/LANG.po, GNU gettext).
LINGUAS := fr tr zh_CN
MO      := $(LINGUAS:%=build/locale/%/LC_MESSAGES/smtpscope.mo)

all: smtpscope

# The catalogues come with the binary (order-only: a new translation does
# not relink it).
smtpscope: $(OBJ) | $(MO)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/locale/%/LC_MESSAGES/smtpscope.mo: po/%.po
	@mkdir -p $(dir $@)
	msgfmt --check -o $@ $<

pot:
	scripts/update-pot.sh

po-update: pot
	for l in $(LINGUAS); do msgmerge --quiet --update --backup=none --no-location po/$$l.po po/smtpscope.pot || exit 1; done

install-locale: $(MO)
	for l in $(LINGUAS); do \
	  install -D -m 0644 build/locale/$$l/LC_MESSAGES/smtpscope.mo \
	    $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/smtpscope.mo || exit 1; done

build/%.o: src/%.c | build
	$(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

build/asan/%.o: src/%.c | build/asan
	$(CC) $(STD) $(CPPFLAGS) $(ASAN_FLAGS) $(WARN) -MMD -MP -c -o $@ $<

build build/asan:
	mkdir -p $@

build/asan/smtpscope: $(ASAN_OBJ) | $(MO)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

build/asan/unit: $(TEST_SRC) $(ASAN_LIB_OBJ)
	$(CC) $(STD) $(CPPFLAGS) $(ASAN_FLAGS) -Wall -Wextra -o $@ $(TEST_SRC) $(ASAN_LIB_OBJ) $(CHECK_LIBS) $(LDLIBS)

deps:
	@scripts/install-deps.sh

# A few real captures read as one: normal sessions and several abnormal closes.
RUN_CAPTURES := real-concurrent real-221-mid-transaction real-421-idle-timeout \
	real-quit-no-221 real-rst-mid-data real-banner-delay-250ms real-ipv6-pipelining
# The build runs in a make started after deps: this one read its flags
# (pkg-config: GMime, libmicrohttpd) before deps had installed what they name.
run: deps
	@$(MAKE) --no-print-directory smtpscope
	./smtpscope $(RUN_CAPTURES:%=-r pcaps/%.pcap)

check: deps
	@$(MAKE) --no-print-directory smtpscope build/asan/smtpscope build/asan/unit
	@tests/run-all.sh

# The first run on a fresh Debian 12 root (debootstrap + chroot).
check-fresh:
	tests/fresh/run.sh

unit: build/asan/unit
	build/asan/unit

golden: smtpscope build/asan/smtpscope
	tests/golden/run.sh

golden-update: smtpscope
	tests/golden/run.sh --update $(NAME)

# smtpscope with libnids' own stream hash instead of ours (see
# src/stream_nids.c): the bench counts what the replacement saves.
build/libnids-hash/stream_nids.o: src/stream_nids.c | build/libnids-hash
	$(CC) $(STD) $(CPPFLAGS) -DSMTPSCOPE_LIBNIDS_HASH $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

build/libnids-hash:
	mkdir -p $@

build/smtpscope-libnids-hash: $(filter-out build/stream_nids.o,$(OBJ)) build/libnids-hash/stream_nids.o
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

bench: smtpscope build/smtpscope-libnids-hash
	$(MAKE) -C bench
	bench/run.sh
	bench/flat_memory.sh

# Every capture in pcaps/ under valgrind: no leaks, no invalid reads; then
# again with libnids' emptied buffers always freed (valgrind sees libnids)
# and every packet's stream prefetched ahead; then with a worker process
# (each process checked).
valgrind: smtpscope
	@fail=0; pass=0; for opt in "" "--free-buffers-above 0 --prefetch-above 0" "--workers 2"; do \
	  for f in pcaps/*.pcap pcaps/*.pcapng; do [ -f "$$f" ] || continue; \
	  valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --suppressions=tests/valgrind.supp \
	    ./smtpscope -r "$$f" --json /dev/null --report /dev/null $$opt >/dev/null; st=$$?; \
	  if [ $$st -eq 99 ]; then echo "FAIL  $$f $$opt"; fail=$$((fail+1)); else echo "pass  $$f $$opt"; pass=$$((pass+1)); fi; done; done; \
	  echo "valgrind: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# Include direction (writers never see wire buffers; the parser builds alone:
# its only other header is the compiler's SIMD intrinsics).
lint:
	@! grep -l '#include "\(session\|stream_nids\|capture\|decode\)\.h"' src/out_*.c || \
	  { echo "lint: a writer includes a pipeline header"; exit 1; }
	@! grep -n '#include' src/smtp_parse.c | grep -v 'smtp_parse.h\|smtp_limits.h\|string.h\|immintrin.h' || \
	  { echo "lint: the parser includes more than its contract"; exit 1; }
	@! grep -n 'OUT_LIT([^,]*, *[^" ]' src/*.c || \
	  { echo "lint: OUT_LIT takes a string literal (it uses sizeof)"; exit 1; }
	@echo "lint: include direction and OUT_LIT use ok"

# make install [PREFIX=/usr/local] [DESTDIR=staging root]; the message
# catalogues go with it (install-locale, under LOCALEDIR).
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man

install: smtpscope install-locale
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 smtpscope $(DESTDIR)$(BINDIR)/smtpscope
	install -m 0644 docs/smtpscope.1 $(DESTDIR)$(MANDIR)/man1/smtpscope.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smtpscope $(DESTDIR)$(MANDIR)/man1/smtpscope.1
	for l in $(LINGUAS); do rm -f $(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/smtpscope.mo; done

clean:
	rm -rf build smtpscope
	$(MAKE) -C bench clean

-include tests/fuzz/fuzz.mk
-include tests/hostile/hostile.mk
-include tests/report/report.mk

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) build/libnids-hash/stream_nids.d
