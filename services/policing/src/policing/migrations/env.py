import policing.adapters.tables  # noqa: F401  (registers the tables for autogenerate)
from govmesh_runtime.migrations import run_env

run_env()
