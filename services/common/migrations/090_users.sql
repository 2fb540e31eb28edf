-- People who use the admin API and the console, each with a role (services/admin/users.py).
-- Neither secret is kept: the password as its argon2id hash, the API token as its SHA-256.
-- A revoked user keeps its row (the history names it); its name may be given to someone new.
create table if not exists users (
    id bigserial primary key,
    name text not null,
    role text not null check (role in ('viewer', 'operator', 'admin')),
    password_hash text,                -- argon2id; null: the user signs in with its token only
    token_hash text not null unique,   -- SHA-256 of the API token, shown once when the user was added
    created_by text not null,
    created_at timestamptz not null default now(),
    revoked_by text,
    revoked_at timestamptz
);
create unique index if not exists users_live_name on users (lower(name)) where revoked_at is null;
