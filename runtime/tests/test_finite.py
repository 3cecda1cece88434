"""Non-finite numbers in JSON: found wherever they are, named by their path; text that reads as one."""

from __future__ import annotations

from govmesh_runtime.finite import finite, is_non_finite, non_finite_paths


def test_every_non_finite_number_is_found_with_its_path() -> None:
    body = b'{"a": 1e400, "b": [1.5, NaN, {"c": -Infinity}], "d": "NaN", "e": 1e308, "f": Infinity}'
    assert non_finite_paths(body) == [("a",), ("b", 1), ("b", 2, "c"), ("f",)]


def test_finite_documents_and_non_json_are_not_refused_here() -> None:
    assert non_finite_paths(b'{"lat": 38.93, "big": 123456789012345678901234567890, "e": 1e300}') == []
    assert non_finite_paths(b'{"broken": NaN') == []  # not JSON: the app answers that itself
    assert non_finite_paths(b"[" * 100_000 + b"NaN" + b"]" * 100_000) == []  # too deep: the app refuses it


def test_text_that_reads_as_a_non_finite_number() -> None:
    assert [is_non_finite(v) for v in ("nan", "-Infinity", "1e999", float("inf"), "12", "abc", 3)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert (finite("38.5"), finite("nan"), finite("1e400"), finite(True), finite("x")) == (38.5, None, None, None, None)
