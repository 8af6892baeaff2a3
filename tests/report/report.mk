# tests/report/report.mk - report and explain tests (included by the Makefile).
#
#   make report-check   golden explain outputs, HTML report lint, rendering
#                       and injection tests (Chromium; skipped without it)
#   make report-demo    build/report-demo.html and docs/report-demo.png from
#                       pcaps/real-concurrent.pcap

.PHONY: report-check report-demo

report-check: smtpscope
	tests/report/run.sh ./smtpscope

report-demo: smtpscope
	tests/report/demo.sh ./smtpscope
