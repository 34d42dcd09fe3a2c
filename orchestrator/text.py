"""Checks on text a user gives that ends up in headers, logs and Chromium's settings."""


def has_controls(value: str) -> bool:
    """Whether `value` holds an ASCII control character (one could split a header or forge a log line)."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
