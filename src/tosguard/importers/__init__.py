"""Manifests from the artifacts teams keep: model and dataset cards, ML-BOMs (``tosguard import``)."""
