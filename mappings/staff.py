"""Staff (assessment authors, action owners) as contained Practitioner + PractitionerRole.

The Practitioner holds the personal data (name, e-mail) and is contained only when there is
some; the PractitionerRole holds the role and the organisation, and is what the resource
points at (`#<prefix>-role`), so masking can drop both and point at the organisation instead.
"""
from __future__ import annotations

from .names import org_ref, ref_ods


def contained_staff(prefix: str, organisation: str, name: str | None, role: str | None,
                    email: str | None = None) -> tuple[list[dict], dict]:
    """(contained resources, reference to the PractitionerRole)."""
    contained: list[dict] = []
    practitioner_role: dict = {"resourceType": "PractitionerRole", "id": f"{prefix}-role"}
    if name or email:
        practitioner: dict = {"resourceType": "Practitioner", "id": prefix}
        if name:
            practitioner["name"] = [{"text": name}]
        if email:
            practitioner["telecom"] = [{"system": "email", "value": email}]
        contained.append(practitioner)
        practitioner_role["practitioner"] = {"reference": f"#{prefix}"}
    practitioner_role["organization"] = org_ref(organisation)
    if role:
        practitioner_role["code"] = [{"text": role}]
    contained.append(practitioner_role)
    return contained, {"reference": f"#{prefix}-role"}


def staff_of(resource: dict, reference: dict | None) -> dict | None:
    """{organisation, name?, role?, email?} of the contained PractitionerRole `reference` names."""
    literal = (reference or {}).get("reference") or ""
    if not literal.startswith("#"):
        return None
    contained = {c.get("id"): c for c in resource.get("contained") or []}
    role = contained.get(literal[1:]) or {}
    out: dict = {"organisation": ref_ods(role.get("organization"))}
    practitioner = contained.get(((role.get("practitioner") or {}).get("reference") or "#")[1:]) or {}
    name = next((n.get("text") for n in practitioner.get("name") or [] if n.get("text")), None)
    if name:
        out["name"] = name
    if role.get("code"):
        out["role"] = role["code"][0].get("text")
    email = next((t.get("value") for t in practitioner.get("telecom") or [] if t.get("system") == "email"), None)
    if email:
        out["email"] = email
    return out
