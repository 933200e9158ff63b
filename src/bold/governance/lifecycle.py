"""Lifecycles as data: the states of a project and of an output, the moves between them, and who owns each.

A transition names the states it leaves from, the state it reaches and the permission it needs; the
owner of a state is the role whose move it is next (the board decides a submitted project; the project
team works on an approved one). Actions look the move up here, so a move from the wrong state is refused
with the states it could be made from, and the docs render these tables (``bold.docs_tables``). The
release workflow extends the output lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bold.errors import BoldError, Conflict, Kind
from bold.governance.permissions import Permission, Role


class ProjectState(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class OutputState(StrEnum):
    PENDING = "pending"  # run and checked, waiting for the analyst to ask for release
    REQUESTED = "requested"  # under review by two output checkers
    APPROVED = "approved"  # both checkers approved the current version: ready to release
    RETURNED = "returned"  # changes requested: the analyst resubmits or withdraws
    REJECTED = "rejected"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[StrEnum]
    target: StrEnum
    permission: Permission
    means: str


@dataclass(frozen=True)
class Lifecycle:
    thing: str
    states: type[StrEnum]
    initial: StrEnum
    created_by: Permission
    transitions: dict[str, Transition]
    owners: dict[StrEnum, Role | None]

    def move(self, name: str, state: str, label: str, error: type[BoldError] = Conflict) -> StrEnum:
        """The state ``name`` leads to from ``state``; ``error`` (a conflict) naming the allowed states if none."""
        t = self.transitions[name]
        current = self.states(state)
        if current not in t.sources:
            allowed = " or ".join(sorted(s.value for s in t.sources))
            article = "an" if allowed[0] in "aeiou" else "a"
            raise error(
                f"{self.thing} {label} is {current.value}; only {article} {allowed} {self.thing} can be {t.means}",
                kind=Kind.CONFLICT,
            )
        return t.target


S = ProjectState
PROJECT = Lifecycle(
    thing="project",
    states=ProjectState,
    initial=S.SUBMITTED,
    created_by=Permission.PROJECT_SUBMIT,
    transitions={
        "approve": Transition("approve", frozenset({S.SUBMITTED}), S.APPROVED, Permission.PROJECT_APPROVE, "approved"),
        "refuse": Transition("refuse", frozenset({S.SUBMITTED}), S.REFUSED, Permission.PROJECT_REFUSE, "refused"),
        "amend": Transition(
            "amend", frozenset({S.SUBMITTED, S.REFUSED, S.APPROVED}), S.SUBMITTED, Permission.PROJECT_AMEND, "amended"
        ),
        "withdraw": Transition(
            "withdraw", frozenset({S.SUBMITTED, S.REFUSED}), S.WITHDRAWN, Permission.PROJECT_WITHDRAW, "withdrawn"
        ),
        "close": Transition("close", frozenset({S.APPROVED}), S.CLOSED, Permission.PROJECT_CLOSE, "closed"),
    },
    owners={
        S.SUBMITTED: Role.GOVERNANCE,  # the board approves or refuses
        S.APPROVED: Role.ANALYST,  # the project team builds, runs studies; governance closes at the end
        S.REFUSED: Role.ANALYST,  # the team may amend and resubmit, or withdraw
        S.WITHDRAWN: None,
        S.CLOSED: None,
    },
)

Q = OutputState
OUTPUT = Lifecycle(
    thing="output",
    states=OutputState,
    initial=Q.PENDING,
    created_by=Permission.STUDY_RUN,
    transitions={
        "request": Transition("request", frozenset({Q.PENDING}), Q.REQUESTED, Permission.OUTPUTS_REQUEST, "requested"),
        "resubmit": Transition(
            "resubmit", frozenset({Q.RETURNED}), Q.REQUESTED, Permission.OUTPUTS_REQUEST, "resubmitted"
        ),
        "withdraw": Transition(
            "withdraw", frozenset({Q.PENDING, Q.RETURNED}), Q.WITHDRAWN, Permission.OUTPUTS_WITHDRAW, "withdrawn"
        ),
        # the one consolidated decision on a request: each output by its two votes of its current version
        "approve": Transition("approve", frozenset({Q.REQUESTED}), Q.APPROVED, Permission.OUTPUTS_DECIDE, "approved"),
        "return": Transition("return", frozenset({Q.REQUESTED}), Q.RETURNED, Permission.OUTPUTS_DECIDE, "returned"),
        "reject": Transition("reject", frozenset({Q.REQUESTED}), Q.REJECTED, Permission.OUTPUTS_DECIDE, "rejected"),
        "release": Transition("release", frozenset({Q.APPROVED}), Q.RELEASED, Permission.OUTPUTS_RELEASE, "released"),
    },
    owners={
        Q.PENDING: Role.ANALYST,  # the analyst asks for release (or withdraws)
        Q.REQUESTED: Role.OUTPUT_CHECKER,  # two checkers vote, one decides
        Q.APPROVED: Role.OUTPUT_CHECKER,  # a checker of the agreement releases
        Q.RETURNED: Role.ANALYST,  # the analyst resubmits or withdraws
        Q.REJECTED: None,
        Q.RELEASED: None,
        Q.WITHDRAWN: None,
    },
)

LIFECYCLES = (PROJECT, OUTPUT)
