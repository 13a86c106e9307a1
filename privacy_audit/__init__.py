"""``hush audit``: the privacy promises (DESIGN.md §2), checked on a live installation.

Each function gathers its evidence where that evidence lives and returns checks a DPO can read:
``check_database`` wherever the store is open (inside the server while it runs), ``check_files``
on the machine that holds the data and salt dirs, ``check_server`` over HTTP; ``render`` prints
them. A finding names a table, column or file and how many, never the value: it may be the very
address the audit looks for. Loopback and unspecified addresses (127.0.0.1, ::1, 0.0.0.0) are
not findings: they identify nobody, and hush's own admin endpoint listens on one.
"""

from privacy_audit.addresses import count_addresses, holds_address, holds_secret
from privacy_audit.database import check_database
from privacy_audit.files import check_files
from privacy_audit.report import P1, P2, P3, P4, P5, P6, P8, SERVER, Check, render
from privacy_audit.server import STORAGE_APIS, check_server

__all__ = [
    "P1",
    "P2",
    "P3",
    "P4",
    "P5",
    "P6",
    "P8",
    "SERVER",
    "STORAGE_APIS",
    "Check",
    "check_database",
    "check_files",
    "check_server",
    "count_addresses",
    "holds_address",
    "holds_secret",
    "render",
]
