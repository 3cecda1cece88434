"""Intake, the one door (一门受理): accepts a matter from any channel, makes it a case,
publishes ``CaseReceived`` and keeps the resident-facing timeline of every case."""
