"""Progress of long command-line work: it lives in ``govmesh_kit.progress`` (standard library
only, so ``bench/citygen`` shares it); this name stays for the runtime's callers."""

from govmesh_kit.progress import Progress, Stages, duration

__all__ = ["Progress", "Stages", "duration"]
