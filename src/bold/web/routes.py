"""The web application's routes and who may use each, read from the routes themselves (the permission each
declares with ``guard.needs``), for the route-by-role test and the table in docs/web.md."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute

from bold.governance.permissions import PERMISSIONS, Permission
from bold.web import guard


def api_routes(routes: Iterable) -> Iterator[APIRoute]:
    """Every route, into the routers included (FastAPI keeps those as routers; BOLD's have no prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def declared(route: APIRoute) -> Permission | str:
    """The permission a route needs, else "signed in" (anyone signed in), else "public"."""
    found = "public"
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        permission = getattr(dependency.call, "permission", None)
        if permission is not None:
            return permission
        if dependency.call is guard.signed_in:
            found = "signed in"
        stack.extend(dependency.dependencies)
    return found


def table() -> str:
    """Every route of the pages and the API with who may use it (docs/web.md)."""
    from bold.web.app import ROUTERS

    lines = ["| method | path | needs | roles |", "|---|---|---|---|"]
    rows = sorted(
        {
            (method, route.path, declared(route))
            for r in ROUTERS
            for route in api_routes(r.routes)
            for method in route.methods - {"HEAD"}
        },
        key=lambda row: (row[1], row[0]),
    )
    for method, path, needs in rows:
        if isinstance(needs, Permission):
            who, roles = f"`{needs.value}`", ", ".join(sorted(r.value for r in PERMISSIONS[needs]))
        else:
            who, roles = needs, "everyone" if needs == "public" else "anyone signed in"
        lines.append(f"| {method} | `{path}` | {who} | {roles} |")
    return "\n".join(lines)
