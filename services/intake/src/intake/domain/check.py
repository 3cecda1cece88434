"""Validation of a whole report: every bad field is named with its reason."""

from __future__ import annotations

from intake.domain.commands import AcceptCase
from intake.domain.taxonomy import matter, validate_attributes
from intake.domain.validation import Bounds, phone_error, resident_id_error

MAX_ATTACHMENTS = 10


def report_errors(cmd: AcceptCase, bounds: Bounds) -> dict[tuple[str, ...], str]:
    """Errors keyed by the field's location (("reporter", "phone"), ("attributes", "x"), …); empty when valid."""
    errors: dict[tuple[str, ...], str] = {}
    found = matter(cmd.matter_code)
    if found is None:
        errors[("matter_code",)] = f"unknown matter {cmd.matter_code!r}"
    else:
        for code, attribute_error in validate_attributes(found, cmd.attributes).items():
            errors[("attributes", code)] = attribute_error
        if not found.anonymous_allowed and (cmd.reporter is None or not cmd.reporter.phone):
            errors[("reporter", "phone")] = (
                f"matter {found.code} cannot be reported anonymously: a reporter with a phone is required"
            )
    if cmd.lat is not None and cmd.lon is not None:
        for name, bound_error in bounds.errors(cmd.lat, cmd.lon).items():
            errors[(name,)] = bound_error
    if cmd.reporter is not None:
        if cmd.reporter.phone and (bad_phone := phone_error(cmd.reporter.phone)):
            errors[("reporter", "phone")] = bad_phone
        if cmd.reporter.id_number and (bad_id := resident_id_error(cmd.reporter.id_number)):
            errors[("reporter", "id_number")] = bad_id
    if len(cmd.attachments) > MAX_ATTACHMENTS:
        errors[("attachments",)] = f"at most {MAX_ATTACHMENTS} attachments"
    for i, url in enumerate(cmd.attachments):
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            errors[("attachments", str(i))] = "must be an http(s) URL of at most 2000 characters"
    return errors
