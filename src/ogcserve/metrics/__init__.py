"""Prometheus metrics: `registry.Metrics`, one object per server (its metric objects, how a
request is recorded, the /metrics text); `tally.Tally`, what one request adds up without locks;
`multiprocess`, the directory `ogcserve serve` shares between its workers.

Nothing here is imported by this package itself: prometheus_client must not be imported before
`serve` has set PROMETHEUS_MULTIPROC_DIR (docs/decisions/0006-metrics.md).
"""
