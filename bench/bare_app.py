"""The ceiling for intake's REST: a bare FastAPI endpoint that parses a JSON body and answers 201.

Run by the benchmark under the same uvicorn settings and the same load tool as intake."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    matter_code: str
    description: str
    lat: float
    lon: float


@app.post("/v1/cases", status_code=201)
async def create(body: Body) -> dict[str, str]:
    return {"matter_code": body.matter_code}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
