"""Provenance of an import: which import wrote each version.

One Provenance per write batch and activity (v3-DataOperation CREATE, UPDATE or DELETE; a batch
that both creates and updates gets two), written in the same transaction as the batch, so a
version never exists without its Provenance. `target` = the versioned references
`Type/id/_history/n` written; `agent.who.display` = "dthub import" (role `assembler`); `entity`
(role `source`) names the package: its manifest's source and exported_at, and the file.
"""
from __future__ import annotations

from .names import PROVENANCE_AGENT_TYPE, V3_DATA_OPERATION, concept

_DISPLAY = {"CREATE": "create", "UPDATE": "revise", "DELETE": "delete"}


def import_provenance(id_: str, activity: str, targets: list[str], recorded: str, source: str,
                      exported_at: str, file: str | None) -> dict:
    what = f"D&T Hub export package from {source}, exported {exported_at}"
    if file:
        what += f", {file}"
    return {
        "resourceType": "Provenance", "id": id_, "meta": {"source": source},
        "target": [{"reference": t} for t in targets],
        "recorded": recorded,
        "activity": concept(V3_DATA_OPERATION, activity, _DISPLAY[activity]),
        "agent": [{"type": concept(PROVENANCE_AGENT_TYPE, "assembler", "Assembler"),
                   "who": {"display": "dthub import"}}],
        "entity": [{"role": "source", "what": {"display": what}}],
    }
