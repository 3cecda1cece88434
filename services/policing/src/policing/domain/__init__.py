"""Policing domain: plain Python, no I/O."""
