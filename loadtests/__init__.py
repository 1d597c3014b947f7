"""Throughput and latency harness for idnode: ``python -m loadtests.bench`` (``make bench``).

Modules: ``data`` (generated identifiers), ``procs`` (pinned child processes), ``baseline`` (a bare
aiohttp+LMDB server), ``wrk`` (GET load), ``batchload`` (batch registration load), ``ceiling`` (raw
LMDB write rate), ``report`` (medians and the Markdown table), ``bench`` (orchestration).
"""
