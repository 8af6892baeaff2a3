#!/bin/sh
# bench/from_pipe.sh FILE CMD... - runs CMD with FILE's bytes coming
# through a pipe on its standard input (as from tcpdump -w - or zcat):
# the bench's scope_pipe, timed with the cat that feeds it.
f=$1
shift
cat "$f" | "$@"
