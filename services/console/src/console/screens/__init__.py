"""The console's screens beyond acceptance, the case board and my tasks: 调解 mediation,
警务 policing, 视频 video, 考核 assessment, and the grid map's layers. Each module is a router
of its own over the owning service's REST API, with the signed-in person's token."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from console.screens import assessment, mediation, policing, video

    for module in (mediation, policing, video, assessment):
        app.include_router(module.router)
