"""Root conftest: the shared fixtures (real Kafka, PostgreSQL) for every test folder."""

pytest_plugins = ["mesh_fixtures"]
