"""Task heads over the encoder: sentiment (``sentiment``, ``cascade``, ``finetune``), ``topics``,
``emotion``, ``effort``, ``intent``, the CX build (``cx``); ``linear`` holds their ``LinearHead`` base and shared code.

May import ``models.base``, ``models.artifacts``, ``models.encoders``, ``models.data``.
"""
