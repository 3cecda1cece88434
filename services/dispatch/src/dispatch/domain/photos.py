"""Photos of a task taken on site: which kinds are accepted, recognised by their first bytes
(a file's name or its declared Content-Type says nothing about what it holds)."""

from __future__ import annotations

JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
KINDS = (JPEG, PNG, WEBP)


def media_type_of(data: bytes) -> str | None:
    """JPEG, PNG or WebP by their signatures; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None
