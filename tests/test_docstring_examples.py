"""Every docstring example of the package runs and prints what it says.

Why: the public API's short examples are documentation a user copies; nothing ran them, and
three had drifted (a distance printed as 0.294 where the function gives 0.4; two examples
whose first line alone was skipped, so the next one used a name never defined). Run here
through the installed ``sonolux`` names — not ``pytest --doctest-modules engine/``, which
imports the source folder as ``engine`` and leaves Numba cache entries that a later
``import sonolux`` cannot load.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import sonolux


def package_modules():
    """Every module of the package but ``__main__`` files (importing one runs the command line)."""
    for info in pkgutil.walk_packages(sonolux.__path__, "sonolux."):
        if not info.name.endswith("__main__"):
            yield info.name


def test_every_docstring_example_runs():
    finder = doctest.DocTestFinder(exclude_empty=True)
    ran, failed = 0, {}
    for name in package_modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            report = []
            runner.run(test, out=report.append)
            ran += runner.tries
            if runner.failures:
                failed[test.name] = "".join(report)
    assert not failed, "\n".join(f"{name}:\n{text}" for name, text in failed.items())
    assert ran >= 80  # the walk found the package's examples (89 today)
