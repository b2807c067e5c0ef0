"""What a record passes through, and beside it what reads the result.

Layout (data flows down this list, never up):
- ``ingest/``    readers per format (one entry point, ``read_batches``), input-path safety, the demo generator
- ``pii/``       redaction with typed placeholders, pseudonyms
- the stages, one module each, pure functions over one batch: ``normalize``, ``langid``, ``segment``,
  ``enrich`` (sentiment and topics per sentence), ``cx`` (emotion/effort/intent per turn), ``touchpoints``,
  ``identity`` (pseudonymised ids and speakers), ``process`` (one file -> staged Parquet parts, in order);
  ``records``/``errors`` (shared record types and error types), ``metrics`` (the one SQL definition of
  NPS/CSAT/CES and of how answers are attributed and counted)
- ``storage/``   the DuckDB store (schema, one-transaction publish), the Postgres mirror, export
- ``analytics/`` what reads the published store: drivers, alerts, follow-up, emerging topics, call metrics
- ``reporting/`` the HTML report and its charts

Stages import ``models`` only through the model protocol; nothing here imports ``flows`` or Prefect; the
run date and all paths are parameters.
"""
