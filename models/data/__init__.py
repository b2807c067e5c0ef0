"""Labelled data: file readers and label sets (``datasets``), the package corpora recipe (``corpora``).

May import ``models.base`` only.
"""
