"""Intake's use cases, one async function each, by concern: ``cases`` (acceptance, feedback,
cancellation), ``erasure`` (a resident's personal data), ``timeline`` (the other services' events
as steps of the case, by the table in ``domain/timeline.py``) and ``alarms`` (camera alarms and
faults become cases). Each takes the message, the unit of work and what else it needs by name."""
