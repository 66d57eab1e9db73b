"""Prometheus metrics (served at /metrics by the ops blueprint).

`http`: per-process request metrics; `shared`: counters every process adds to in Redis;
`collector`: deployment-wide figures read at scrape time; `registry`: the app's wiring.
"""
