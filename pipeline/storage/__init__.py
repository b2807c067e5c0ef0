"""Where results live: the DuckDB store, its schema and views, the Postgres mirror, export.

``schema`` holds every table's DDL and every view (analysis tables included), so the store never imports
an analysis module. May import: ``pipeline.errors``, ``pipeline.metrics``, ``pipeline.identity``
(pseudonymising old stores). Never imports ``pipeline.analytics``, ``pipeline.reporting`` or ``flows``.
"""
