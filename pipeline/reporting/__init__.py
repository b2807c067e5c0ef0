"""Presentation: the HTML report (``report``) and its charts (``charts``), read from the store.

May import: ``pipeline.storage``, ``pipeline.analytics``, ``pipeline.metrics``. Nothing imports it but
``flows``.
"""
