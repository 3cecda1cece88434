"""Every use case of policing: the commands its routes run and the events it reacts to.

The one file that says what the service does. Runtime runs them (``govmesh_runtime.usecases``):
a command in its own unit of work, a reaction in the consumer's; dependencies by parameter
name (``uow``, ``session``, ``now``, ``settings``, ``actor``, and ``grids`` given at bind).
The consumer groups below are policing's subscriptions, their topics derived from the events;
their names are the groups' committed offsets and ACLs (``contracts`` ``Topic.consumers``):
never rename one.

Not ``video.alarms.v1``: a camera alarm reaches policing as the case intake made of it (one case
per burst), routed by dispatch's rules — one road, so one police task per alarm burst."""

from __future__ import annotations

from govmesh_contracts import (
    CasePersonalDataErased,
    TaskAssigned,
    TaskCancelled,
    TaskEscalated,
    TaskReassigned,
    ViolenceRiskFlagged,
)
from govmesh_runtime.usecases import Registry
from policing import handlers, logbook

registry = Registry("policing")

# --- commands (routes) ---------------------------------------------------------------------------
registry.command(handlers.import_reference)  # PUT /v1/reference
registry.command(handlers.set_roster)  # PUT /v1/rooms/{room}/roster
registry.command(handlers.add_shifts)  # POST /v1/rooms/{room}/shifts
registry.command(handlers.remove_shift)  # DELETE /v1/rooms/{room}/shifts/{id}
registry.command(logbook.log_patrol)  # POST /v1/rooms/{room}/patrols
registry.command(logbook.log_visit)  # POST /v1/rooms/{room}/visits
registry.command(logbook.add_key_person)  # POST /v1/rooms/{room}/key-persons
registry.command(logbook.add_key_place)  # POST /v1/rooms/{room}/key-places
registry.command(handlers.route_task)  # POST /v1/tasks/{id}/route
registry.command(handlers.accept_task)  # POST /v1/tasks/{id}/accept
registry.command(handlers.arrive_on_scene)  # POST /v1/tasks/{id}/on-scene
registry.command(handlers.close_task)  # POST /v1/tasks/{id}/close
registry.command(handlers.mediate)  # POST /v1/tasks/{id}/mediation

# --- reactions (consumer group → event → handler) ------------------------------------------------
registry.reaction("policing-tasks", TaskAssigned, handlers.open_task_on_task_assigned)
registry.reaction("policing-tasks", TaskCancelled, handlers.withdraw_task_on_task_cancelled)
registry.reaction("policing-tasks", TaskEscalated, handlers.extend_due_on_task_escalated)
registry.reaction("policing-tasks", TaskReassigned, handlers.hand_over_on_task_reassigned)
registry.reaction("policing-tasks", ViolenceRiskFlagged, handlers.open_task_on_violence_risk)
# its police tasks keep copies of the case's text and address
registry.reaction("policing-erasures", CasePersonalDataErased, handlers.erase_case_copies_on_erasure)
