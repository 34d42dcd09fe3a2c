"""What a REST action asks of a session's page and what it answers.

The public routes (api/routes/actions.py, files.py) and the worker's internal API (workers/remote/server.py) take
and give these same objects: the body a user sends crosses to the worker as it was validated at the edge.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NavigateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=8192)


class NavigateResponse(BaseModel):
    url: str
    status: int | None
    title: str


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(min_length=1, max_length=100_000)


class EvaluateResponse(BaseModel):
    result: Any


class SetInputFilesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selector: str = Field(min_length=1, max_length=4096)
    files: list[str] = Field(min_length=1, max_length=100)
