"""Training, evaluation and the promotion gate: ``train``, ``evaluate``, ``gate``.

May import everything else in ``models``; nothing in ``models`` imports it.
"""
