"""Usage manifests: YAML/JSON loading with positions, the model, country codes."""
