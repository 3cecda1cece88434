"""A service's use cases in one registry, and the one way runtime runs them.

Each service lists what it does in ``<service>/registry.py``::

    registry = Registry("dispatch")
    registry.command(handlers.complete_task)                       # called from a route or the CLI
    registry.reaction("dispatch-cases", CaseReceived, handlers.dispatch_case_on_received)

and binds it once in bootstrap with the dependencies its handlers name::

    use_cases = registry.bind(settings=settings, clock=clock, dispatcher=dispatcher)
    create_app(..., use_cases=use_cases)   # consumers derived: use_cases.consumer_specs()

A route then runs a command in one line (``UseCasesDep`` in ``govmesh_runtime.app``)::

    task = await use_cases.run(handlers.complete_task, cmd, actor=caller)

How a handler is called: its first positional parameter receives the message (a command or
an event) when one is given; every other parameter is filled by name — from the keyword
arguments of ``run(...)``, else from the injectables: ``uow``, ``session`` (``uow.session``),
``now`` (the clock read once), ``clock``, ``settings``, ``actor`` (the caller's
``Principal``) and whatever the service provided to ``bind``. A parameter with a default is
left to its default when nothing matches. A reaction is checked at ``bind``: a parameter no
injectable fills stops the service at start, not at the first event.

``run`` opens the unit of work, commits when the handler returns, rolls back when it raises,
and observes each run once: ``govmesh_use_cases_total{use_case, outcome}`` (ok, refused for a
``govmesh_kit.errors.DomainError``, error), ``govmesh_handler_duration_seconds``, one
``use_case`` log line and, when tracing exports, one span. A ``DomainError`` goes on to the
caller: over HTTP, ``create_app``'s exception handler answers it (404, 409, 422, 403).
Reactions are run by the consumer loop (``consumer.py``), which already owns their unit of
work (a batch is one), their metrics and their log lines; the registry only injects.

Consumer groups and their topics come from the reactions: a group subscribes to the topics
``govmesh_contracts.topic_for`` names for its event classes, in the order registered.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from govmesh_contracts import Event, topic_for
from govmesh_kit.errors import DomainError
from govmesh_runtime import metrics
from govmesh_runtime.auth import Principal
from govmesh_runtime.consumer import ConsumerSpec, Handler
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tracing import span
from govmesh_runtime.uow import UnitOfWork

log = get_logger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
UowFactory = Callable[[], UnitOfWork]

# What runtime itself injects; a service's own dependencies are given to ``bind``.
BUILTINS = frozenset({"uow", "session", "now", "clock", "settings", "actor"})
_NO_MESSAGE: Any = object()


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Signature:
    """A handler's parameters, read once at registration."""

    message: str | None  # the first positional parameter: where the message goes
    names: tuple[str, ...]  # every parameter by name, the message's included
    optional: frozenset[str]  # those with a default


def _signature(handler: Callable[..., Any]) -> _Signature:
    params = list(inspect.signature(handler).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return _Signature(
        message=positional[0].name if positional else None,
        names=tuple(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)),
        optional=frozenset(p.name for p in params if p.default is not p.empty),
    )


@dataclass(frozen=True)
class Reaction:
    group: str  # the Kafka consumer group: never renamed (the group's offsets and ACLs hang on it)
    event: type[Event]
    handler: Callable[..., Awaitable[None]]


@dataclass
class Registry:
    """The use cases of one service: its commands and its reactions to events."""

    service: str
    commands: dict[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)

    def command(self, handler: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        """Register a command handler (also usable as a decorator); its name is the use case's."""
        name = handler.__name__
        if name in self.commands and self.commands[name] is not handler:
            raise ValueError(f"{self.service}: two commands named {name}")
        self.commands[name] = handler
        return handler

    def reaction(self, group: str, event: type[Event], handler: Callable[..., Awaitable[None]]) -> None:
        """``handler`` applies ``event`` for consumer group ``group``; one handler per (group, event)."""
        if any(r.group == group and r.event is event for r in self.reactions):
            raise ValueError(f"{self.service}: {group} already reacts to {event.__name__}")
        topic_for(event)  # an event class of no topic fails here, at import
        self.reactions.append(Reaction(group, event, handler))

    def reacts_to(
        self, *events: type[Event], group: str
    ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        """Decorator form of :meth:`reaction`, for one or more event classes."""

        def register(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
            for event in events:
                self.reaction(group, event, handler)
            return handler

        return register

    def groups(self) -> dict[str, list[Reaction]]:
        by_group: dict[str, list[Reaction]] = {}
        for reaction in self.reactions:
            by_group.setdefault(reaction.group, []).append(reaction)
        return by_group

    def bind(self, *, settings: Any = None, clock: Clock = system_clock, **provided: Any) -> UseCases:
        """The registry with its dependencies: what a service's bootstrap builds once per app."""
        clash = BUILTINS & provided.keys()
        if clash:
            raise ValueError(f"{self.service}: {sorted(clash)} are injected by runtime, not provided")
        use_cases = UseCases(self, settings=settings, clock=clock, provided=provided)
        for reaction in self.reactions:
            use_cases.check(reaction.handler, reaction.event)
        return use_cases


class UseCases:
    """A bound registry: runs commands (``run``) and gives the consumer specs of its reactions."""

    def __init__(self, registry: Registry, *, settings: Any, clock: Clock, provided: Mapping[str, Any]) -> None:
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.provided = dict(provided)
        self._signatures: dict[Callable[..., Any], _Signature] = {}

    def _sig(self, handler: Callable[..., Any]) -> _Signature:
        sig = self._signatures.get(handler)
        if sig is None:
            sig = self._signatures[handler] = _signature(handler)
        return sig

    def check(self, handler: Callable[..., Any], event: type[Event]) -> None:
        """Every parameter of a reaction but its event must be injectable."""
        sig = self._sig(handler)
        known = BUILTINS - {"actor"} | self.provided.keys()
        missing = [n for n in sig.names if n != sig.message and n not in known and n not in sig.optional]
        if missing:
            raise TypeError(
                f"{self.registry.service}: {handler.__name__} (on {event.__name__}) needs {missing}: "
                "nothing injects them (provide them to Registry.bind)"
            )

    def arguments(
        self,
        handler: Callable[..., Any],
        message: Any,
        uow: UnitOfWork,
        *,
        actor: Principal | None = None,
        given: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments ``handler`` gets: the message, what the caller gave, then by name."""
        sig = self._sig(handler)
        given = given or {}
        kwargs: dict[str, Any] = {}
        now: datetime | None = None
        for name in sig.names:
            if name == sig.message and message is not _NO_MESSAGE:
                kwargs[name] = message
            elif name in given:
                kwargs[name] = given[name]
            elif name == "uow":
                kwargs[name] = uow
            elif name == "session":
                kwargs[name] = uow.session
            elif name == "now":
                now = now or self.clock()
                kwargs[name] = now
            elif name == "clock":
                kwargs[name] = self.clock
            elif name == "settings" and self.settings is not None:
                kwargs[name] = self.settings
            elif name == "actor" and actor is not None:
                kwargs[name] = actor
            elif name in self.provided:
                kwargs[name] = self.provided[name]
            elif name not in sig.optional:
                raise TypeError(f"{handler.__name__}: nothing to pass as '{name}'")
        unknown = set(given) - set(sig.names)
        if unknown:
            raise TypeError(f"{handler.__name__} takes no {sorted(unknown)}")
        return kwargs

    async def run(
        self,
        uow_factory: UowFactory,
        handler: Callable[..., Awaitable[T]],
        message: Any = _NO_MESSAGE,
        /,
        *,
        actor: Principal | None = None,
        **given: Any,
    ) -> T:
        """Run a command in its own unit of work: commit on return, roll back on raise; observed once."""
        name = handler.__name__
        if self.registry.commands.get(name) is not handler:
            raise LookupError(f"{self.registry.service}: {name} is not a registered command")
        started = time.perf_counter()
        outcome = "error"
        try:
            with span(f"use_case {name}", **{"govmesh.use_case": name}):
                async with uow_factory() as uow:
                    result = await handler(**self.arguments(handler, message, uow, actor=actor, given=given))
                    await uow.commit()
            outcome = "ok"
            return result
        except DomainError:
            outcome = "refused"  # the domain said no: the caller's answer, not a fault
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.USE_CASES.labels(name, outcome).inc()
            metrics.HANDLER_DURATION.labels(name, "ok" if outcome == "ok" else "error").observe(elapsed)
            log.info("use_case", use_case=name, outcome=outcome, duration_ms=round(elapsed * 1000, 1))

    def consumer_specs(self) -> list[ConsumerSpec]:
        """One spec per consumer group, its topics derived from the events it reacts to."""
        specs = []
        for group, reactions in self.registry.groups().items():
            topics = tuple(dict.fromkeys(topic_for(r.event).name for r in reactions))
            handlers = {r.event: self._consumer_handler(r.handler) for r in reactions}
            specs.append(ConsumerSpec(name=group, topics=topics, handlers=handlers))
        return specs

    def _consumer_handler(self, handler: Callable[..., Awaitable[None]]) -> Handler:
        async def react(event: Any, uow: UnitOfWork) -> None:
            await handler(**self.arguments(handler, event, uow))

        react.__name__ = handler.__name__  # the consumer's metrics and logs name the reaction
        react.__qualname__ = handler.__qualname__
        return cast(Handler, react)


@dataclass(frozen=True)
class Runner:
    """``UseCases`` with the unit-of-work factory of one running service: what a route holds."""

    use_cases: UseCases
    uow_factory: UowFactory

    async def run(
        self,
        handler: Callable[..., Awaitable[T]],
        message: Any = _NO_MESSAGE,
        /,
        *,
        actor: Principal | None = None,
        **given: Any,
    ) -> T:
        return await self.use_cases.run(self.uow_factory, handler, message, actor=actor, **given)
