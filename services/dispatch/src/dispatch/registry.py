"""Every use case of dispatch: the commands its routes and timers run, the events it reacts to.

The one file that says what the service does. Runtime runs them (``govmesh_runtime.usecases``):
a command in its own unit of work, a reaction in the consumer's; dependencies by parameter
name (``uow``, ``session``, ``now``, ``settings``, ``actor``, and ``dispatcher`` given at bind).
The consumer groups below are dispatch's subscriptions, their topics derived from the events;
their names are the groups' committed offsets and ACLs (``contracts`` ``Topic.consumers``):
never rename one."""

from __future__ import annotations

from dispatch import elements, handlers, people, reference
from govmesh_contracts import (
    CaseCancelled,
    CaseClearedAtSource,
    CaseFeedbackGiven,
    CasePersonalDataErased,
    CaseReceived,
    MediationTaskCompleted,
    PolicingTaskCompleted,
)
from govmesh_runtime.usecases import Registry

registry = Registry("dispatch")

# --- commands: the centres' and workers' decisions (routes) ----------------------------------------
registry.command(handlers.accept_task)  # POST /v1/tasks/{id}/accept
registry.command(handlers.complete_task)  # POST /v1/tasks/{id}/complete
registry.command(handlers.reassign_task)  # POST /v1/tasks/{id}/reassign
registry.command(handlers.cancel_task)  # POST /v1/tasks/{id}/cancel
registry.command(handlers.record_return_visit)  # POST /v1/tasks/{id}/return-visit
registry.command(handlers.escalate_case)  # POST /v1/cases/{id}/escalate
registry.command(handlers.close_case)  # POST /v1/cases/{id}/close

# --- commands: reference data (routes) ------------------------------------------------------------
registry.command(reference.replace_routing_rules)  # PUT /v1/routing-rules
registry.command(reference.resend_webhook)  # POST /v1/webhooks/deliveries/{id}/resend
registry.command(people.save_worker)  # PUT /v1/workers/{id}
registry.command(people.set_worker_duty)  # PUT /v1/workers/{id}/duty
registry.command(people.save_centre)  # PUT /v1/centres/{code}
registry.command(people.plan_visits)  # POST /v1/visit-plans
registry.command(people.record_visit)  # POST /v1/visit-records
registry.command(elements.save_element)  # PUT /v1/elements/{id}
registry.command(elements.load_elements)  # POST /v1/elements/bulk

# --- commands: timers (dispatch.adapters.background) ---------------------------------------------
registry.command(handlers.escalate_overdue)  # SLA timers: overdue tasks one level up
registry.command(handlers.close_without_feedback)  # feedback window: resolved cases close

# --- reactions (consumer group → event → handler) ------------------------------------------------
registry.reaction("dispatch-cases", CaseReceived, handlers.dispatch_case_on_received)
registry.reaction("dispatch-cases", CaseFeedbackGiven, handlers.close_or_reopen_on_feedback)
registry.reaction("dispatch-cases", CaseCancelled, handlers.cancel_case_on_cancelled)
registry.reaction("dispatch-cases", CasePersonalDataErased, handlers.erase_case_copy_on_erasure)
registry.reaction("dispatch-cases", CaseClearedAtSource, handlers.resolve_case_on_cleared_at_source)
registry.reaction("dispatch-task-results", MediationTaskCompleted, handlers.apply_task_result)
registry.reaction("dispatch-task-results", PolicingTaskCompleted, handlers.apply_task_result)
