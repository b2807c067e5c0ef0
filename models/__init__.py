"""Models behind one protocol (``models/base.py``).

- ``base``        the protocol, ModelMeta, errors, hashing, atomic directory writes (imports nothing here)
- ``artifacts``   saving/loading weights with their pins (encoder fingerprint, library versions)
- ``encoders/``   text -> vectors: the registry of backends (``core``), the converted e5 checkpoint,
                  the ONNX Runtime backends, the static tier, the persistent vector cache
- ``heads/``      task models over the encoder: sentiment (linear head, cascade, fine-tuned), topics,
                  emotion, effort, intent; ``linear`` is their ``LinearHead`` base
- ``data/``       labelled-file readers and label sets, the package corpora recipe
- ``training/``   train, evaluate, the promotion gate
- ``registry``    versioned artifacts on disk and the backend table; ``card`` the model card; ``fast`` the fast tier

Imports point down: training -> registry -> heads -> encoders -> base; data -> base.
"""
