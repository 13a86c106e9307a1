"""Roles and what each may do (DESIGN §7): the one table every route's ``require`` reads."""

from __future__ import annotations

# action -> what it lets a person do, in the words the 403 page uses
ACTIONS = {
    "account": "manage your own account",
    "traffic.read": "read a site's traffic",
    "traffic.export": "export a site's traffic",
    "keys.own": "manage your own API keys",
    "security.read": "read the security view",
    "audit_log.read": "read the audit log",
    "sites.manage": "add, change and remove sites",
    "users.manage": "add, change and remove users",
    "keys.manage": "manage everyone's API keys",
}

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "marketing": frozenset({"account", "traffic.read", "traffic.export", "keys.own"}),
    "security": frozenset({"account", "security.read", "audit_log.read"}),
}

ROLE_SUMMARY = {
    "admin": "sites, users, keys and settings, and everything below",
    "marketing": "traffic views and exports of their sites, their own API keys",
    "security": "the security view of their sites and the audit log",
}


def allows(role: str, action: str) -> bool:
    assert action in ACTIONS, action
    return action in ROLE_ACTIONS.get(role, frozenset())


def roles_allowing(action: str) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]
