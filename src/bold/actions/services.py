"""Setting a workspace up to run as one operating-system user per service (``bold service setup``).

The one action that takes no signed-in BOLD person: it is done by the machine's root, who can read every key
already, so a BOLD sign-in would protect nothing; it is refused to anyone else. What it changes is audited
under root's account name.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil

from bold import store
from bold.errors import Conflict, Refused
from bold.security import services
from bold.security.private import write_private
from bold.workspace import Workspace

TOOLS = ("groupadd", "useradd", "usermod")


def require_root() -> None:
    """Refused (one line, exit 4) unless running as root; checked before the workspace is even opened."""
    if os.geteuid() != 0:
        raise Refused(
            "bold service setup must run as root (it creates system users and groups and changes the owners "
            "of the workspace's files)"
        )


def setup(ws: Workspace, prefix: str = services.DEFAULT_PREFIX) -> services.Setup:
    """Create the service users and the key groups (if missing) and give each file to its service and group;
    idempotent: a second run changes nothing and records nothing."""
    require_root()
    services.check_prefix(prefix)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Conflict(f"bold service setup needs {', '.join(missing)} (the shadow-utils / passwd package)")
    found = ws.services_prefix
    if found is not None and found != prefix:
        raise Conflict(
            f"{ws.root} is already set up for the services {found}*; run: bold service setup --prefix {found}"
        )
    if found is None:
        text = ws.settings_path.read_text()
        write_private(ws.settings_path, text.rstrip("\n") + f"\n\n[services]\nprefix = {json.dumps(prefix)}\n")
    result = services.setup(ws.root, prefix)
    if result.changed or found is None:
        store.audit.record(
            ws,
            "services set up",
            ws.root.name,
            {
                "prefix": prefix,
                "users_created": result.users_created,
                "groups_created": result.groups_created,
                "memberships_added": len(result.memberships_added),
                "files_changed": len(result.files_changed),
            },
            by=pwd.getpwuid(os.geteuid()).pw_name,
        )
        services.apply_files(ws.root, prefix, result)  # the audit rewrote audit.head (root's): give it back
    _share_witness(ws, prefix)
    return result


def _share_witness(ws: Workspace, prefix: str) -> None:
    """The witness file ``bold.toml`` names (outside the workspace) is appended to by every service's commit:
    the governance service's and the audit group's, 0660."""
    import grp

    witness = store.audit.witness_path(ws)
    if witness is None or not witness.is_file() or witness.resolve().is_relative_to(ws.root.resolve()):
        return
    os.chown(witness, pwd.getpwnam(services.user_name("governance", prefix)).pw_uid,
             grp.getgrnam(services.group_name("audit", prefix)).gr_gid)  # fmt: skip
    os.chmod(witness, 0o660)
