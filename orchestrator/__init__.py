"""The core of browserpool: session model, lifecycle, Redis store, reaper.

Imports neither FastAPI nor Playwright.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("browserpool")  # the one version, from pyproject.toml
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
