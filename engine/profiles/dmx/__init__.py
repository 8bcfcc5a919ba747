"""The DMX fixture maps shipped with sonolux (TOML files; found with importlib.resources)."""
