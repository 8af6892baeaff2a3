# tests/hostile/hostile.mk - hostile-capture tests (included by the Makefile).
#
#   make hostile                       every case, ./smtpscope and the ASan build
#   make hostile HOSTILE_CASES="long-client-line syn-flood"
#
# Standalone: make -f Makefile -f tests/hostile/hostile.mk hostile
# Needs /usr/bin/python3 and /usr/bin/time (Debian package "time"); about one
# minute and ~110 MB of temporary disk (the captures are made at run time in
# $TMPDIR and deleted after use).

HOSTILE_CASES ?=

.PHONY: hostile

hostile: smtpscope build/asan/smtpscope
	tests/hostile/run.sh $(HOSTILE_CASES)
