"""Owns browsers: the only package that imports Playwright."""
