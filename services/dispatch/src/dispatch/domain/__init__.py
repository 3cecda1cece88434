"""Dispatch domain: plain Python, no I/O."""
