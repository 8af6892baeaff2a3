# smtpscope - SMTP session dissector for packet captures.
#
#   make            build ./smtpscope
#   make run        install missing packages, analyse a bundled capture
#   make check      install missing packages, run every test level
#   make bench      benchmark against libpcap, libnids and tshark
#   make valgrind   leak check over every capture in pcaps/
#   make fuzz       libFuzzer harnesses (clang)
#   make clean

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wmissing-prototypes -Wstrict-prototypes
CPPFLAGS += -Iinclude -D_DEFAULT_SOURCE
STD     := -std=gnu11
LDLIBS  := -lnids -lpcap
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

.PHONY: all run check unit golden corpus live fuzz-replay bench valgrind fuzz lint clean deps golden-update

all: smtpscope

smtpscope: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/%.o: src/%.c | build
	$(CC) $(STD) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

build/asan/%.o: src/%.c | build/asan
	$(CC) $(STD) $(CPPFLAGS) $(ASAN_FLAGS) $(WARN) -MMD -MP -c -o $@ $<

build build/asan:
	mkdir -p $@

build/asan/smtpscope: $(ASAN_OBJ)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

build/asan/unit: $(TEST_SRC) $(ASAN_LIB_OBJ)
	$(CC) $(STD) $(CPPFLAGS) $(ASAN_FLAGS) -Wall -Wextra -o $@ $(TEST_SRC) $(ASAN_LIB_OBJ) $(CHECK_LIBS) $(LDLIBS)

deps:
	@scripts/install-deps.sh

run: deps smtpscope
	./smtpscope -r pcaps/real-concurrent.pcap

check: deps smtpscope build/asan/smtpscope build/asan/unit
	@tests/run-all.sh

unit: build/asan/unit
	build/asan/unit

golden: smtpscope build/asan/smtpscope
	tests/golden/run.sh

golden-update: smtpscope
	tests/golden/run.sh --update $(NAME)

clean:
	rm -rf build smtpscope

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d)
