"""Who may do what: the roles (DOMAIN.md section 4), the permissions, and the one table joining them.

Every action checks its permission against ``ROLE_PERMISSIONS`` before doing anything (and, for the actions
in ``NEEDS_CLEARANCE``, that the person is trained and approved), and the docs render the same table
(``bold.docs_tables``), so the rule lives in one place. Rules that depend on a particular
project (the submitter may not approve it; only the analysts named in an agreement may run its studies;
only its named output checkers, never the person who ran a study, may read an output) are applied by the
actions on top of this table.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    CUSTODIAN = "custodian"
    LINKER = "linker"
    ANALYST = "analyst"
    OUTPUT_CHECKER = "output_checker"
    GOVERNANCE = "governance"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)


class Permission(StrEnum):
    """One per thing a person does; the value is how people name it (the command)."""

    STATUS = "status"
    SOURCES = "sources"  # the data asset register: public, so anyone signed in may read it
    INGEST = "ingest"
    OPTOUT_ADD = "optout add"
    OPTOUT_COUNT = "optout count"
    BATCH_WITHDRAW = "batch withdraw"  # a batch sent in error: its records removed everywhere, its row kept
    RETENTION_SHOW = "retention show"  # each source's period and what is due
    RETENTION_APPLY = "retention apply"  # delete what is past its period or its project's end (also automatic)
    LINK = "link"
    LINK_REPORT = "link report"
    PROJECT_SUBMIT = "project submit"
    PROJECT_APPROVE = "project approve"
    PROJECT_REFUSE = "project refuse"
    PROJECT_DPIA = "project dpia"  # record the data protection impact assessment of the version under review
    PROJECT_SIGN_OFF = "project sign-off"  # a custodian agrees to a project's use of their source
    PROJECT_AMEND = "project amend"
    PROJECT_WITHDRAW = "project withdraw"
    PROJECT_SHOW = "project show"
    PROJECT_LIST = "project list"
    PROJECT_BUILD = "project build"
    PROJECT_CLOSE = "project close"
    STUDY_LIST = "study list"
    STUDY_RUN = "study run"
    OUTPUTS_LIST = "outputs list"
    OUTPUTS_SHOW = "outputs show"
    OUTPUTS_CHECK = "outputs check"  # the disclosure check, again
    OUTPUTS_REPORT = "outputs report"  # the check report of an output: which rule flagged which cell
    OUTPUTS_REQUEST = "outputs request"  # ask for release, or resubmit a returned request
    OUTPUTS_WITHDRAW = "outputs withdraw"
    OUTPUTS_REVIEW = "outputs review"  # one checker's vote on one output
    OUTPUTS_DECIDE = "outputs decide"
    OUTPUTS_RELEASE = "outputs release"
    RELEASES_LIST = "releases list"
    RELEASES_SHOW = "releases show"  # and download the released files
    RELEASES_VERIFY = "releases verify"
    RELEASES_IMPACT = "releases impact"  # governance's note of what a released output changed, for the register
    AUDIT_VERIFY = "audit verify"
    AUDIT_SHOW = "audit show"
    REGISTER_BUILD = "register build"
    USER_ADD = "user add"
    USER_LIST = "user list"
    USER_DEACTIVATE = "user deactivate"
    USER_PASSWORD = "user password"  # one's own password
    USER_REACTIVATE = "user reactivate"
    USER_UNLOCK = "user unlock"  # lift a lockout after repeated failed sign-ins
    USER_TRAIN = "user train"  # record a person's training
    USER_APPROVE = "user approve"  # approve a person to work on data, until a date
    USER_SHOW = "user show"  # a person's roles, state, training and approval: one's own, or anyone's for an admin


P = Permission
_EVERYONE = {P.STATUS, P.SOURCES, P.PROJECT_SHOW, P.PROJECT_LIST, P.STUDY_LIST, P.USER_PASSWORD, P.USER_SHOW}

# The role table: what each role may do. A person may hold several roles and may do what any of them allows.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CUSTODIAN: frozenset(
        _EVERYONE | {P.INGEST, P.OPTOUT_ADD, P.OPTOUT_COUNT, P.BATCH_WITHDRAW, P.RETENTION_SHOW, P.PROJECT_SIGN_OFF}
    ),
    Role.LINKER: frozenset(_EVERYONE | {P.LINK, P.LINK_REPORT}),
    Role.ANALYST: frozenset(
        _EVERYONE
        | {
            P.PROJECT_SUBMIT,
            P.PROJECT_AMEND,
            P.PROJECT_WITHDRAW,
            P.STUDY_RUN,
            P.OUTPUTS_LIST,
            P.OUTPUTS_CHECK,
            P.OUTPUTS_REPORT,
            P.OUTPUTS_REQUEST,
            P.OUTPUTS_WITHDRAW,
            P.RELEASES_LIST,
            P.RELEASES_SHOW,
            P.RELEASES_VERIFY,
        }
    ),
    Role.OUTPUT_CHECKER: frozenset(
        _EVERYONE
        | {
            P.OUTPUTS_LIST,
            P.OUTPUTS_SHOW,
            P.OUTPUTS_CHECK,
            P.OUTPUTS_REPORT,
            P.OUTPUTS_REVIEW,
            P.OUTPUTS_DECIDE,
            P.OUTPUTS_RELEASE,
            P.RELEASES_LIST,
            P.RELEASES_SHOW,
            P.RELEASES_VERIFY,
        }
    ),
    Role.GOVERNANCE: frozenset(
        _EVERYONE
        | {
            P.OPTOUT_COUNT,
            P.RETENTION_SHOW,
            P.LINK_REPORT,
            P.PROJECT_SUBMIT,
            P.PROJECT_APPROVE,
            P.PROJECT_REFUSE,
            P.PROJECT_DPIA,
            P.PROJECT_AMEND,
            P.PROJECT_WITHDRAW,
            P.PROJECT_CLOSE,
            P.OUTPUTS_LIST,
            P.RELEASES_LIST,
            P.RELEASES_VERIFY,
            P.RELEASES_IMPACT,
            P.AUDIT_VERIFY,
            P.AUDIT_SHOW,
            P.REGISTER_BUILD,
            P.USER_LIST,
        }
    ),
    Role.ADMIN: frozenset(
        _EVERYONE
        | {
            P.INGEST,
            P.OPTOUT_ADD,
            P.OPTOUT_COUNT,
            P.BATCH_WITHDRAW,
            P.RETENTION_SHOW,
            P.RETENTION_APPLY,
            P.LINK,
            P.LINK_REPORT,
            P.PROJECT_SUBMIT,
            P.PROJECT_AMEND,
            P.PROJECT_WITHDRAW,
            P.PROJECT_BUILD,
            P.PROJECT_CLOSE,
            P.OUTPUTS_LIST,
            P.RELEASES_LIST,
            P.RELEASES_VERIFY,
            P.AUDIT_VERIFY,
            P.AUDIT_SHOW,
            P.REGISTER_BUILD,
            P.USER_ADD,
            P.USER_LIST,
            P.USER_DEACTIVATE,
            P.USER_REACTIVATE,
            P.USER_UNLOCK,
            P.USER_TRAIN,
            P.USER_APPROVE,
        }
    ),
}

# The actions that act on data (records, linkage, extracts, studies and their unreleased outputs): besides a role
# that allows them, they need a current training record and a current approval (``bold user train``, ``bold user
# approve``), checked by ``bold.actions.access.require``. Governance, the register, released outputs and managing
# people do not, so an admin can always put an expired account right; nor does retention, which applies a policy.
NEEDS_CLEARANCE: frozenset[Permission] = frozenset(
    {
        P.INGEST,
        P.OPTOUT_ADD,
        P.BATCH_WITHDRAW,
        P.LINK,
        P.PROJECT_BUILD,
        P.STUDY_RUN,
        P.OUTPUTS_SHOW,
        P.OUTPUTS_CHECK,
        P.OUTPUTS_REPORT,
        P.OUTPUTS_REQUEST,
        P.OUTPUTS_WITHDRAW,
        P.OUTPUTS_REVIEW,
        P.OUTPUTS_DECIDE,
        P.OUTPUTS_RELEASE,
    }
)

# Separation of duties: who links records sees identifiers, so never holds a role that sees content (a custodian's
# files, a project's extract or outputs). ``bold user add`` refuses these combinations, and an agreement may not
# name a linker as an analyst or output checker.
INCOMPATIBLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.LINKER: frozenset({Role.ANALYST, Role.CUSTODIAN, Role.OUTPUT_CHECKER}),
}


def incompatible(roles: Iterable[str]) -> list[tuple[Role, Role]]:
    """The pairs of ``roles`` that one person may not hold together."""
    held = {Role(r) for r in roles}
    return sorted((r, other) for r in held for other in INCOMPATIBLE_ROLES.get(r, ()) if other in held)


# The same table read the other way: for each permission, the roles that hold it.
PERMISSIONS: dict[Permission, frozenset[Role]] = {
    p: frozenset(r for r, allowed in ROLE_PERMISSIONS.items() if p in allowed) for p in Permission
}


def allows(roles: frozenset[Role] | set[str], permission: Permission) -> bool:
    return bool(set(roles) & PERMISSIONS[Permission(permission)])
