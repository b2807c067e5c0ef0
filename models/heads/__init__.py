"""Task heads over the encoder: sentiment (``sentiment``, ``cascade``, ``finetune``), ``topics``,
``emotion``, ``effort``, ``intent``, the CX build (``cx``); ``linear`` holds their shared linear-head code.

May import ``models.base``, ``models.artifacts``, ``models.encoders``, ``models.data``.
"""
