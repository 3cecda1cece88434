"""Open311 GeoReport v2 under /open311/v2: ``routes`` (the endpoints), ``forms`` (the input, made
into the one door's command with the native API's limits), ``rendering`` (JSON and XML, the spec's
errors). See ``routes`` for what the spec asks and how it maps onto cases."""

from intake.entrypoints.api.open311.rendering import http_errors
from intake.entrypoints.api.open311.routes import PREFIX, public_router, router

__all__ = ["PREFIX", "http_errors", "public_router", "router"]
