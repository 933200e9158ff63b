"""The actions: one function per thing a person does, the only layer the faces (command line, web, Python API)
call.

Each action takes the workspace and the signed-in ``User`` explicitly, checks the permission in the role
table, does the work through the stages (which write the change and its audit entry in one transaction)
and returns a typed result for the face to render. Refusals are audited. Nothing here reads the
environment or prints; see docs/architecture.md for where a new command or page goes.
"""
