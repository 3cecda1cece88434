"""VideoBridge's tables (its own database; no other service reads them)."""
