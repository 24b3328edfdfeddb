"""What agents remember, over REST (``/api/v1/memories``): review, quarantine, delete.

Readers list and read memories and the audit; approvers (and admins) quarantine, release,
delete and forget — the same people who decide approvals decide what agents may keep. A memory
of another tenant is "not found". The audit says who removed or quarantined what and when
(ids, kind, subject), never the content.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor

from agentplane.errors import NotFoundError
from agentplane.memory.types import Memory, MemoryKind, MemoryStatus

from .actions import ActionError
from .auth import Approver, PlaneDep, Reader
from .errors import responses
from .knowledge import TenantQuery, scope
from .plane import Plane

router = APIRouter(prefix="/api/v1/memories", tags=["memory"])


class MemoryId(Convertor[str]):
    """A memory id in a path (``mem:…``): so ``/memories/audit`` and ``/memories/forget`` are
    never taken for a memory (and ``OPTIONS`` names only their own methods)."""

    regex = r"mem:[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("memory_id", MemoryId())

READS = responses(401, 404, 422, 503)
ACTS = responses(400, 401, 403, 404, 409, 422, 503)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Why(Strict):
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S",
                        description="Why; kept in the memory audit.")
    tenant: str | None = Field(default=None, min_length=1, max_length=200,
                               description="Only for keys of every tenant.")


class Forget(Why):
    subject: str = Field(min_length=1, max_length=500, pattern=r"\S",
                         description="Whom or what to forget (a customer id, a supplier).")


def memory_json(memory: Memory) -> dict[str, Any]:
    return asdict(memory)


def _one(plane: Plane, tenant: str, memory_id: str) -> Memory:
    found = plane.memories.get(tenant, memory_id)
    if found is None:
        raise NotFoundError(f"no memory {memory_id!r}")
    return found


@router.get("", responses=READS)
async def list_memories(
    key: Reader, plane: PlaneDep,
    kind: MemoryKind | None = None,
    status: MemoryStatus | None = None,
    subject: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    tenant: TenantQuery = None,
) -> list[dict[str, Any]]:
    """The tenant's memories, newest first, by kind, status and subject."""
    found = plane.memories.list(scope(key, tenant), kind=kind, subject=subject,
                                status=status, limit=limit)
    return [memory_json(m) for m in found]


@router.get("/audit", responses=READS)
async def audit(key: Reader, plane: PlaneDep,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                tenant: TenantQuery = None) -> list[dict[str, Any]]:
    """Who quarantined, released, deleted or forgot what, when and why (no content)."""
    return plane.memories.audit(scope(key, tenant), limit=limit)


@router.post("/forget", responses=ACTS)
async def forget(body: Forget, key: Approver, plane: PlaneDep) -> dict[str, Any]:
    """Delete everything remembered about a subject (every kind, every status)."""
    tenant = scope(key, body.tenant)
    count = plane.memories.forget(tenant, body.subject, by=key.identity, reason=body.reason)
    return {"subject": body.subject, "deleted": count}


@router.get("/{memory_id:memory_id}", responses=READS)
async def get_memory(memory_id: str, key: Reader, plane: PlaneDep,
                     tenant: TenantQuery = None) -> dict[str, Any]:
    return memory_json(_one(plane, scope(key, tenant), memory_id))


Change = Literal["quarantine", "release"]


async def _change(plane: Plane, key: Any, memory_id: str, body: Why, change: Change
                  ) -> dict[str, Any]:
    tenant = scope(key, body.tenant)
    memory = _one(plane, tenant, memory_id)
    if change == "release" and memory.status != "quarantined":
        raise ActionError(f"memory {memory_id} is {memory.status}, not quarantined: nothing to "
                          "release")
    act = plane.memories.quarantine if change == "quarantine" else plane.memories.release
    return memory_json(act(tenant, memory_id, by=key.identity, reason=body.reason))


@router.post("/{memory_id:memory_id}/quarantine", responses=ACTS)
async def quarantine(memory_id: str, body: Why, key: Approver, plane: PlaneDep
                     ) -> dict[str, Any]:
    """Keep a memory out of recall until a person releases it."""
    return await _change(plane, key, memory_id, body, "quarantine")


@router.post("/{memory_id:memory_id}/release", responses=ACTS)
async def release(memory_id: str, body: Why, key: Approver, plane: PlaneDep
                  ) -> dict[str, Any]:
    """Let a quarantined memory be recalled again."""
    return await _change(plane, key, memory_id, body, "release")


@router.delete("/{memory_id:memory_id}", responses=ACTS)
async def delete(memory_id: str, key: Approver, plane: PlaneDep,
                 reason: Annotated[str, Query(max_length=2000, description="Why; kept in "
                                              "the memory audit.")] = "",
                 tenant: TenantQuery = None) -> dict[str, Any]:
    """Delete a memory (its content is gone; the audit keeps its id, kind and subject)."""
    where = scope(key, tenant)
    _one(plane, where, memory_id)
    plane.memories.delete(where, memory_id, by=key.identity, reason=reason)
    return {"id": memory_id, "deleted": True}
