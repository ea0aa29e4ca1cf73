-- Issue 15: the client console's staff, their sessions, and a name for each API key.

-- A person who signs in to a client's console. `login` is unique across the deployment (the
-- sign-in form does not ask for the client) and kept in lowercase. The TOTP secret is made
-- with the invitation, sealed like bank secrets with the user's id as associated data, and
-- shown on the one-time setup page; `password_hash` (argon2, PHC string) is null until the
-- person has used that page, so a user without one cannot sign in.
create table staff_users (
    id uuid primary key,
    client_id uuid not null references clients (id) on delete cascade,
    login text not null unique check (login = lower(login)),
    role text not null check (role in ('viewer', 'technician', 'admin')),
    password_hash text,
    totp_secret_sealed bytea not null,
    -- The last TOTP time step accepted: a code is good once.
    totp_last_step bigint,
    -- Wrong passwords or codes since the last success or lock; five lock the account.
    failed_attempts integer not null default 0,
    locked_until timestamptz,
    -- The one-time setup link's token (SHA-256; the token is shown once), until it is used.
    setup_token_hash bytea unique,
    setup_expires_at timestamptz,
    created_at timestamptz not null default now(),
    check ((setup_token_hash is null) = (setup_expires_at is null))
);

create index staff_users_client on staff_users (client_id);

-- A signed-in browser. Its cookie holds a random id; only the id's SHA-256 is kept, so a copy
-- of this table signs nobody in. It ends when idle too long or at its absolute expiry.
create table console_sessions (
    id_hash bytea primary key check (octet_length(id_hash) = 32),
    user_id uuid not null references staff_users (id) on delete cascade,
    client_id uuid not null references clients (id) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null
);

create index console_sessions_user on console_sessions (user_id);

-- What the client calls a key ("production", "staging"), so a list of keys can be read.
alter table api_keys add column name text check (char_length(name) between 1 and 100);
