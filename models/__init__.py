"""Models behind one protocol (models/base.py): encoders, sentiment, topics, registry, training, evaluation."""
