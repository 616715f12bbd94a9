"""Manifests from the artifacts teams keep: model and dataset cards, ML-BOMs, dataset
descriptions (``tosguard import``)."""
