"""The core of browserpool: session model, lifecycle, Redis store, reaper.

Imports neither FastAPI nor Playwright.
"""

__version__ = "0.2.0"
