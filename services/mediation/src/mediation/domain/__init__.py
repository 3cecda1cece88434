"""Mediation domain: plain Python, no I/O."""
