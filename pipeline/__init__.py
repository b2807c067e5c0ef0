"""Pure pipeline stages: ingest, normalize, redact, detect language, segment, enrich, join, store, report.

No Prefect imports here; the run date and all paths are parameters.
"""
