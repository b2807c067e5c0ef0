"""Analyses that read the published store and write their own tables: key drivers (with intervals),
alerts, the follow-up queue, emerging topics, review-manipulation signals, call metrics.

May import: ``pipeline.storage`` (connections, schema), ``pipeline.metrics``, stage helpers
(``normalize``), ``models`` (topic discovery). Never imports ``pipeline.reporting`` or ``flows``.
"""
