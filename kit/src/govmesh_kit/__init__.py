"""Plain-Python helpers shared by every layer, the domains included.

The domain of a service may not import the runtime (it is plain Python); what domains and
adapters both need lives here once instead of being copied into each service."""
