"""The visual presets shipped with sonolux (``sonolux.presets``): one module per preset plus
its JSON parameter map. Found with :func:`importlib.resources.files`; the preset registry
loads them by file, so this package is only their home in the wheel."""
