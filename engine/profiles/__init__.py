"""The OSC console profiles shipped with sonolux (TOML files; found with importlib.resources)."""
