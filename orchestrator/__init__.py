"""The core of browserpool: session model, lifecycle, Redis store, reaper.

Imports neither FastAPI nor Playwright.
"""
