"""Encoders: text -> vectors, chosen by name (``core.get_encoder``).

``core`` (registry of names, batching, the in-memory and disk caches), ``convert`` (the converted e5
checkpoint), ``onnx_encoder`` (ONNX Runtime backends) and its ``sp_tokenizer``, ``static`` (the static tier),
``vector_cache``.
May import ``models.base`` only.
"""
