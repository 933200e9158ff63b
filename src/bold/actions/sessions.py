"""Signing in to the web application or its API, and out again (``bold.governance.sessions`` keeps them)."""

from __future__ import annotations

from bold.governance import sessions
from bold.governance.sessions import Session
from bold.workspace import Workspace


def start(ws: Workspace, name: str, password: str, *, via: str = "web") -> Session:
    """A new session for a person whose password is right (failures audited, lockout after repeated ones)."""
    return sessions.start(ws, name, password, via)


def resume(ws: Workspace, token: str | None) -> Session | None:
    """The open session a token names, or None once it has ended or expired."""
    return sessions.resume(ws, token)


def end(ws: Workspace, token: str | None) -> None:
    sessions.end(ws, token)
