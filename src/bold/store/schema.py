"""The governance store's schema, as numbered migrations applied in order (``PRAGMA user_version``).

Migration 1 is the schema BOLD 0.1 created lazily, table by table; a workspace made then has some or all of
its tables and version 0, so migration 1 creates only what is missing. Each later migration changes the
schema in place. Migrations are history: never edit one that has shipped, add the next.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "the schema of BOLD 0.1",
        [
            """create table if not exists batches (
                batch_id integer primary key autoincrement,
                source text not null,
                name text not null,
                file_name text not null,
                file_sha256 text not null,
                file_format text not null,
                contract_version integer not null,
                rows_read integer not null,
                rows_accepted integer not null,
                rows_quarantined integer not null,
                rows_opted_out integer not null,
                quarantine_file text,
                actor text not null,
                started_at text not null,
                finished_at text not null,
                unique (source, file_sha256),
                unique (source, name)
            )""",
            """create table if not exists optout_entries (
                kind text not null check (kind in ('nhs_number', 'name_dob', 'initials_dob')),
                digest text not null,
                added_at text not null,
                primary key (kind, digest)
            )""",
            """create table if not exists optout_purges (
                source text not null,
                records integer not null,
                purged_at text not null
            )""",
            """create table if not exists optout_files (
                file_sha256 text primary key,
                entries integer not null,
                added_at text not null,
                actor text not null
            )""",
            """create table if not exists audit (
                seq integer primary key,
                at text not null,
                actor text not null,
                action text not null,
                object text not null,
                details text not null,
                prev_hash text not null,
                hash text not null
            )""",
            """create table if not exists people (
                name text primary key,
                roles text not null,
                password_hash text not null,
                created_at text not null,
                created_by text not null
            )""",
            """create table if not exists projects (
                id text primary key,
                title text not null,
                agreement text not null,
                status text not null check (status in ('submitted', 'approved', 'closed')),
                assessment text not null,
                submitted_by text not null,
                submitted_at text not null,
                approved_by text,
                approved_at text,
                closed_by text,
                closed_at text,
                built_at text
            )""",
            """create table if not exists outputs (
                id text primary key,
                project text not null,
                study text not null,
                status text not null check (status in ('pending', 'approved', 'rejected', 'released')),
                created_by text not null,
                created_at text not null,
                manifest_sha256 text not null
            )""",
        ],
    ),
    (
        "people can be deactivated and change their password; projects can be refused, amended and withdrawn",
        [
            "alter table people add column active integer not null default 1 check (active in (0, 1))",
            "alter table people add column changed_at text",
            "alter table people add column changed_by text",
            """create table projects_v2 (
                id text primary key,
                title text not null,
                agreement text not null,
                status text not null check (status in ('submitted', 'approved', 'refused', 'withdrawn', 'closed')),
                assessment text not null,
                submitted_by text not null,
                submitted_at text not null,
                approved_by text,
                approved_at text,
                closed_by text,
                closed_at text,
                built_at text,
                decided_by text,
                decided_at text,
                decision_reason text,
                amendments integer not null default 0
            )""",
            """insert into projects_v2 (id, title, agreement, status, assessment, submitted_by, submitted_at,
                   approved_by, approved_at, closed_by, closed_at, built_at, decided_by, decided_at)
               select id, title, agreement, status, assessment, submitted_by, submitted_at, approved_by,
                   approved_at, closed_by, closed_at, built_at, approved_by, approved_at from projects""",
            "drop table projects",
            "alter table projects_v2 rename to projects",
            "create index if not exists outputs_by_project on outputs (project, created_at)",
        ],
    ),
    (
        "outputs made from an extract that an opt-out later changed are marked, for the output checkers",
        [
            "alter table outputs add column optout_people integer not null default 0",
            "alter table outputs add column optout_marked_at text",
        ],
    ),
    (
        "the last audit entry of each transaction seals the governance state (bold.store.state)",
        ["alter table audit add column state text"],
    ),
    (
        "sign-in lockout: consecutive failed sign-ins and the time a person is locked out until",
        [
            "alter table people add column failed_sign_ins integer not null default 0",
            "alter table people add column locked_until text",
        ],
    ),
    (
        "disclosure checks: the profile an output was checked under, when, the outcome and the checked files' manifest",
        [
            "alter table outputs add column profile text",
            "alter table outputs add column checked_at text",
            "alter table outputs add column check_outcome text",
            "alter table outputs add column check_sha256 text",
        ],
    ),
    (
        "the release workflow: outputs can be requested, returned and withdrawn; release requests, the outputs "
        "in each with their version, the checkers' votes, the decisions and the releases with their checksums",
        [
            """create table outputs_v7 (
                id text primary key,
                project text not null,
                study text not null,
                status text not null check (status in
                    ('pending', 'requested', 'approved', 'returned', 'rejected', 'released', 'withdrawn')),
                created_by text not null,
                created_at text not null,
                manifest_sha256 text not null,
                optout_people integer not null default 0,
                optout_marked_at text,
                profile text,
                checked_at text,
                check_outcome text,
                check_sha256 text
            )""",
            """insert into outputs_v7 (id, project, study, status, created_by, created_at, manifest_sha256,
                   optout_people, optout_marked_at, profile, checked_at, check_outcome, check_sha256)
               select id, project, study, status, created_by, created_at, manifest_sha256, optout_people,
                   optout_marked_at, profile, checked_at, check_outcome, check_sha256 from outputs""",
            "drop table outputs",
            "alter table outputs_v7 rename to outputs",
            "create index if not exists outputs_by_project on outputs (project, created_at)",
            """create table release_requests (
                id text primary key,
                project text not null,
                context text not null,
                controls text not null,
                requested_by text not null,
                requested_at text not null,
                round integer not null default 1,
                resubmitted_at text
            )""",
            """create table release_request_outputs (
                request text not null references release_requests (id),
                output text not null unique,
                version integer not null default 1,
                check_sha256 text not null,
                primary key (request, output)
            )""",
            """create table release_votes (
                request text not null,
                output text not null,
                version integer not null,
                checker text not null,
                vote text not null check (vote in ('approve', 'changes_requested', 'reject')),
                comment text not null,
                voted_at text not null,
                primary key (output, version, checker)
            )""",
            """create table release_decisions (
                request text not null,
                round integer not null,
                decided_by text not null,
                decided_at text not null,
                outcomes text not null,
                primary key (request, round)
            )""",
            """create table releases (
                id text primary key,
                project text not null,
                output text not null unique,
                request text not null,
                version integer not null,
                released_by text not null,
                released_at text not null,
                checksums text not null,
                manifest_sha256 text not null
            )""",
        ],
    ),
    (
        "sessions of the web application and its API: each kept by a keyed digest of its token, never the token",
        [
            """create table sessions (
                digest text primary key,
                name text not null,
                via text not null check (via in ('web', 'api')),
                csrf text not null,
                started_at text not null,
                seen_at text not null,
                ended_at text,
                ended_why text
            )""",
            "create index sessions_by_name on sessions (name)",
        ],
    ),
    (
        "a batch's quarantine reasons (rows and first row numbers per reason, never a value) and its warnings, "
        "so its report can be read without the quarantine key",
        [
            "alter table batches add column reasons text",
            "alter table batches add column warnings text",
        ],
    ),
    (
        "records sent again: a batch's rows that superseded a stored version (updated), that were the same as it "
        "(unchanged, not stored again) and, of the updated, those whose identifiers changed (to re-link)",
        [
            "alter table batches add column rows_updated integer not null default 0",
            "alter table batches add column rows_unchanged integer not null default 0",
            "alter table batches add column rows_relink integer not null default 0",
        ],
    ),
    (
        "a batch can be withdrawn (its row kept, marked with who, when and what was removed); a project records "
        "the batches its extract was built from, and what its last build left out because it was withdrawn",
        [
            "alter table batches add column withdrawn_at text",
            "alter table batches add column withdrawn_by text",
            "alter table batches add column withdrawal text",
            "alter table projects add column built_batches text",
            "alter table projects add column build_notice text",
        ],
    ),
    (
        "quarantined rows a later batch resolves: each quarantined row by its batch and row number, with its reasons "
        "and a keyed digest of its source record id (never the id); the later batches that accepted that id; and how "
        "many earlier quarantined rows a batch resolved when it arrived",
        [
            "alter table batches add column rows_resolved integer not null default 0",
            """create table quarantined_rows (
                batch_id integer not null,
                file_row integer not null,
                record_digest text,
                reasons text not null,
                primary key (batch_id, file_row)
            )""",
            "create index quarantined_rows_by_digest on quarantined_rows (record_digest)",
            """create table quarantine_resolutions (
                batch_id integer not null,
                file_row integer not null,
                resolved_by integer not null,
                primary key (batch_id, file_row, resolved_by)
            )""",
            "create index quarantine_resolutions_by_resolver on quarantine_resolutions (resolved_by)",
        ],
    ),
    (
        "retention: a batch whose records were deleted at the end of its source's retention period (when, and what "
        "was deleted), and a project whose extract was deleted at its end date",
        [
            "alter table batches add column expired_at text",
            "alter table batches add column expiry text",
            "alter table projects add column expired_at text",
        ],
    ),
    (
        "people's lifecycle: a lock that lasts until an admin lifts it; failed sign-ins counted apart from the "
        "person (the count is written before a password is checked; the 15-minute locks of migration 3 lapse); "
        "training and approval records, each with its expiry date",
        [
            "alter table people add column locked_at text",
            "create table sign_in_failures (name text primary key, failures integer not null)",
            "insert into sign_in_failures (name, failures) select name, failed_sign_ins from people "
            "where failed_sign_ins > 0",
            "alter table people drop column failed_sign_ins",
            "alter table people drop column locked_until",
            """create table training (
                id integer primary key autoincrement,
                name text not null,
                course text not null,
                completed_on text not null,
                expires_on text,
                recorded_by text not null,
                recorded_at text not null
            )""",
            "create index training_by_name on training (name)",
            """create table approvals (
                id integer primary key autoincrement,
                name text not null,
                expires_on text not null,
                note text,
                approved_by text not null,
                approved_at text not null
            )""",
            "create index approvals_by_name on approvals (name)",
        ],
    ),
    (
        "decision records: every version of a project's agreement with its outcome and the board's answers, its "
        "DPIA, and each custodian's sign-off; a project made before keeps its current agreement as its one version",
        [
            """create table project_versions (
                project_id text not null,
                version integer not null,
                agreement text not null,
                assessment text not null,
                submitted_by text not null,
                submitted_at text not null,
                outcome text check (outcome in ('approved', 'refused', 'amended', 'withdrawn')),
                decided_by text,
                decided_at text,
                reason text,
                answers text,
                primary key (project_id, version)
            )""",
            """insert into project_versions (project_id, version, agreement, assessment, submitted_by, submitted_at,
                   outcome, decided_by, decided_at, reason)
               select id, amendments + 1, agreement, assessment, submitted_by, submitted_at,
                   case status when 'closed' then 'approved' when 'submitted' then null else status end,
                   case status when 'withdrawn' then closed_by else decided_by end,
                   case status when 'withdrawn' then closed_at else decided_at end, decision_reason from projects""",
            """create table project_dpias (
                project_id text not null,
                version integer not null,
                dpia text not null,
                recorded_by text not null,
                recorded_at text not null,
                primary key (project_id, version)
            )""",
            """create table project_sign_offs (
                project_id text not null,
                version integer not null,
                source text not null,
                signed_by text not null,
                signed_at text not null,
                conditions text,
                primary key (project_id, version, source)
            )""",
        ],
    ),
    (
        "impact: a release request's plain-language summary for the public (read by the checkers with the outputs), "
        "and the impact notes governance adds to a release afterwards",
        [
            "alter table release_requests add column summary text",
            """create table impact_notes (
                id integer primary key autoincrement,
                project text not null,
                release text not null,
                note text not null,
                written_by text not null,
                written_at text not null
            )""",
        ],
    ),
]

VERSION = len(MIGRATIONS)
