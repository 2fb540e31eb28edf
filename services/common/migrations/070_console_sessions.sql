-- Sign-in sessions of the operator's console (services/admin/console/session.py). The cookie carries
-- a signed session id; this row says who it is, with which role, until when, and whether they signed out.
create table if not exists console_sessions (
    id_hash text primary key,          -- SHA-256 of the session id: the table alone opens no session
    user_name text not null,
    role text not null check (role in ('viewer', 'operator', 'admin')),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    ended_at timestamptz               -- set by sign-out
);
create index if not exists console_sessions_expiry on console_sessions (expires_at);
