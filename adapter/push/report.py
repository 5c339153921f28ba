"""What a push did: per type selected / sent / created / updated / unchanged / failed, the
aggregates, the window, the target's refusals; as JSON (`--report FILE`) and a terminal summary."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import orjson

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class Counts:
    selected: int = 0    # what the client may see in the window
    unchanged: int = 0   # identical to what this stream last sent: not sent again
    sent: int = 0
    created: int = 0     # the target answered 201
    updated: int = 0     # the target answered 200 (it keeps its version when nothing changed)
    failed: int = 0      # refused by the target


@dataclass
class PushReport:
    client_id: str
    target: str
    since: str | None = None
    until: str | None = None
    started: str | None = None
    duration_seconds: float = 0.0
    dry_run: bool = False
    resumed: bool = False           # the previous run of this stream was interrupted
    full_sweep: str | None = None   # why the whole visible set was read ("first push", "grants changed", ...)
    types: dict[str, Counts] = field(default_factory=dict)
    out_of_scope: list[str] = field(default_factory=list)   # types (or "aggregates") the client's scopes do not grant
    aggregates: Counts = field(default_factory=Counts)
    failures: list[dict] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False
    requests: int = 0

    def counts(self, resource_type: str) -> Counts:
        return self.types.setdefault(resource_type, Counts())

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.error:
            return EXIT_UNAVAILABLE
        return EXIT_REFUSED if self.failures else EXIT_OK

    def to_json(self) -> bytes:
        data = asdict(self)
        data["exit_code"] = self.exit_code
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    def summary(self) -> str:
        head = (f"push {self.client_id} -> {self.target}  window ({self.since or 'beginning'}, {self.until}]"
                + ("  [dry run]" if self.dry_run else "") + ("  [resumed]" if self.resumed else "")
                + (f"  [full sweep: {self.full_sweep}]" if self.full_sweep else ""))
        lines = [head, f"{'type':<24}{'selected':>9}{'unchanged':>10}{'sent':>7}{'created':>9}{'updated':>9}{'failed':>8}"]
        rows = list(self.types.items()) + [("aggregates", self.aggregates)]
        for name, c in rows:
            lines.append(f"{name:<24}{c.selected:>9}{c.unchanged:>10}{c.sent:>7}{c.created:>9}{c.updated:>9}{c.failed:>8}")
        if self.out_of_scope:
            lines.append(f"not in the client's scopes (not read, not sent): {', '.join(self.out_of_scope)}")
        for failure in self.failures[:20]:
            lines.append(f"  refused {failure['type']}/{failure['id']} ({failure['status']}): {failure['text']}")
        if len(self.failures) > 20:
            lines.append(f"  ... and {len(self.failures) - 20} more refusals (see --report)")
        if self.error:
            lines.append(f"stopped: {self.error}; the next push resumes (what the target acknowledged is not sent again)")
        if self.interrupted:
            lines.append("interrupted; the next push resumes (what the target acknowledged is not sent again)")
        lines.append(f"{self.requests} request(s) to the target in {self.duration_seconds:.1f} s; exit {self.exit_code}")
        return "\n".join(lines)
