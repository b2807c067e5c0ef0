"""Where results live: the DuckDB store, its schema and views, the Postgres mirror, export.

``store`` (DuckDB: publish, record versions, locks), ``schema``/``tables`` (DDL, views, writing a table),
``safety``, ``export``; the Postgres mirror: ``pgstore`` (a runner's session: lock, pull, push) on
``pgbase`` (URLs, types, lock ids), ``pgschema`` (Postgres DDL and views), ``pgsync`` (local change
tracking) and ``pgmerge`` (a push's merge by the record-version rule).

``schema`` holds every table's DDL and every view (analysis tables included), so the store never imports
an analysis module. May import: ``pipeline.errors``, ``pipeline.metrics``, ``pipeline.identity``
(pseudonymising old stores). Never imports ``pipeline.analytics``, ``pipeline.reporting`` or ``flows``.
"""
