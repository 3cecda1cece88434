"""The governance console (治理工作台): the screens clerks, grid workers and centres work in.

Server-rendered pages (FastAPI + Jinja2) that call the other services only over their REST
APIs, with the signed-in person's token; no database of its own."""
