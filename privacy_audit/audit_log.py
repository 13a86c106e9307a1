"""The audit log's hash chain, checked: an edited, removed or reordered entry shows."""

from __future__ import annotations

from aggregator import audit_log
from aggregator.store import Store
from privacy_audit.report import Check, counted

AUDIT_LOG = "Audit log is append-only"


def check_audit_log(store: Store) -> Check:
    checked, broken = audit_log.verify(store)
    entries = counted(checked, "entry", "entries")
    if broken is not None:
        return Check(
            AUDIT_LOG,
            False,
            f"the hash chain breaks at entry {broken} ({entries} checked):"
            " an entry was changed, removed or reordered outside hush",
        )
    return Check(
        AUDIT_LOG,
        True,
        f"the hash chain holds over {entries}, oldest to newest.",
    )
