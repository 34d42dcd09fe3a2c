"""`make bench`: browserpool measured against a real daemon, a real Redis and a real Chromium.

Run `python -m bench` (or `make bench`); `python -m bench --quick` takes fewer samples, `--only NAME`
runs some scenarios. Results: a table on stdout and bench/results/latest.json.
"""
