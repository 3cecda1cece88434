"""VideoBridge domain: plain Python, no I/O."""
