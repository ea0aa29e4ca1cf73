-- Issue 12: a client may hold several API keys, so a key can be rotated without downtime
-- (issue a new one, move the callers, revoke the old) and revoked on its own. The client's one
-- key becomes its first row here; a revoked key is kept, marked, so `client key list` can show
-- when it stopped working.
create table api_keys (
    id uuid primary key,
    client_id uuid not null references clients (id),
    -- SHA-256 of the key; the key itself is shown once and never stored.
    key_hash bytea not null unique,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

create index api_keys_client on api_keys (client_id);

insert into api_keys (id, client_id, key_hash, created_at)
select gen_random_uuid(), id, api_key_hash, created_at from clients;

alter table clients drop column api_key_hash;
