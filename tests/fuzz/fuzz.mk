# tests/fuzz/fuzz.mk - fuzz harness build and run rules (included by the Makefile).
#
#   make fuzz                 build the libFuzzer harnesses with clang and run
#                             each for FUZZ_SECONDS (default 60), one at a time
#   make fuzz FUZZ_ONLY=pcap  run one harness only (parse, session or pcap)
#   make fuzz-build           build them only
#   make fuzz-replay          replay tests/fuzz/corpus/* and tests/fuzz/crashes/*
#                             through the harnesses built with gcc + ASan/UBSan
#                             (no libFuzzer needed; part of `make check`)
#
# Standalone use before the Makefile includes this file:
#   make -f Makefile -f tests/fuzz/fuzz.mk fuzz-replay
#
# libFuzzer writes new inputs to build/fuzz/corpus/<harness>/ (the committed
# seeds in tests/fuzz/corpus/<harness>/ are read only) and crashers to
# build/fuzz/artifacts/.  Copy each crasher into tests/fuzz/crashes/<harness>/
# and keep it there forever (see tests/fuzz/crashes/README.md).

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_ONLY ?= parse session pcap
FUZZ_HARNESSES := parse session pcap
FUZZ_DIR := build/fuzz
FUZZ_CPPFLAGS := -Iinclude -D_DEFAULT_SOURCE -D_GNU_SOURCE $(GMIME_CFLAGS)
# Everything fatal except pointer-overflow and signed-integer-overflow, which
# are recoverable only so that tests/fuzz/ubsan.supp can silence the known
# open cases by function (halt_on_error keeps every other report fatal).
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize-recover=pointer-overflow,signed-integer-overflow
FUZZ_ENV := LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp:print_suppressions=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=tests/fuzz/ubsan.supp
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_LDLIBS = $(if $(LDLIBS),$(LDLIBS),-lnids -lpcap)
FUZZ_MAX_LEN_parse := 32768
FUZZ_MAX_LEN_session := 32768
FUZZ_MAX_LEN_pcap := 262144
FUZZ_HDR := tests/fuzz/fuzz_common.h tests/fuzz/fuzz_record.h $(wildcard include/*.h)

# The parser harness links smtp_parse.c alone: the module must build alone
# (STYLE.md 2).  The others link every module but main.c.
FUZZ_SRC_ALL := $(filter-out src/main.c,$(wildcard src/*.c))
FUZZ_OBJ_parse := $(FUZZ_DIR)/obj/smtp_parse.o
FUZZ_OBJ_session := $(FUZZ_SRC_ALL:src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_OBJ_pcap := $(FUZZ_OBJ_session)

FUZZ_REPLAY_FLAGS ?= $(if $(ASAN_FLAGS),$(ASAN_FLAGS),-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
FUZZ_REPLAY_OBJ_parse := build/asan/smtp_parse.o
FUZZ_REPLAY_OBJ_session := $(FUZZ_SRC_ALL:src/%.c=build/asan/%.o)
FUZZ_REPLAY_OBJ_pcap := $(FUZZ_REPLAY_OBJ_session)

.PHONY: fuzz fuzz-build fuzz-replay

# Library objects for libFuzzer: coverage-instrumented, no main.
$(FUZZ_DIR)/obj/%.o: src/%.c $(wildcard include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

define FUZZ_HARNESS_RULES
$$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(FUZZ_HDR) $$(FUZZ_OBJ_$(1))
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CPPFLAGS) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< $$(FUZZ_OBJ_$(1)) $$(FUZZ_LDLIBS)

# Replay binary: gcc, the Makefile's ASan objects, replay.c as main().
build/asan/fuzz-replay-$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/replay.c $$(FUZZ_HDR) $$(FUZZ_REPLAY_OBJ_$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(FUZZ_CPPFLAGS) -std=gnu11 $$(FUZZ_REPLAY_FLAGS) -Wall -Wextra -o $$@ \
	    tests/fuzz/fuzz_$(1).c tests/fuzz/replay.c $$(FUZZ_REPLAY_OBJ_$(1)) $$(FUZZ_LDLIBS)
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_HARNESS_RULES,$(h))))

fuzz-build: $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/fuzz_%)

# One harness at a time, in one process (no -jobs): the machine is shared.
# fuzz_pcap runs without libFuzzer's per-input leak check: libnids leaks a
# few nodes on every nids_init/nids_exit cycle, so every input would trigger
# a full LeakSanitizer heap scan (90% of the time, 10x slower).  Leaks in our
# code are still caught by fuzz-replay (LSan at exit) and `make valgrind`.
fuzz: fuzz-build
	@set -e; for h in $(FUZZ_ONLY); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$h $(FUZZ_DIR)/artifacts; \
	    echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	    case $$h in pcap) ml=$(FUZZ_MAX_LEN_pcap); lk=0;; *) ml=$(FUZZ_MAX_LEN_parse); lk=1;; esac; \
	    $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) \
	        -dict=tests/fuzz/smtp.dict -max_len=$$ml -rss_limit_mb=2048 -detect_leaks=$$lk \
	        -timeout=20 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_DIR)/artifacts/$$h- \
	        $(FUZZ_DIR)/corpus/$$h tests/fuzz/corpus/$$h; \
	done

fuzz-replay: $(FUZZ_HARNESSES:%=build/asan/fuzz-replay-%)
	tests/fuzz/replay.sh
