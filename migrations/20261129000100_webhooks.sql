-- Signed webhooks: a client's endpoints, the outbox of events, one delivery per event and
-- endpoint, and the log of every attempt.

create table webhook_endpoints (
    id uuid primary key,
    client_id uuid not null references clients (id) on delete cascade,
    url text not null,
    -- The event types it subscribes to.
    events text[] not null check (cardinality(events) > 0),
    -- The signing key (`whsec_…`), sealed like bank secrets with the endpoint's id as
    -- associated data; it is shown once, at creation.
    secret_sealed bytea not null,
    created_at timestamptz not null default now(),
    -- When the current run of failed attempts began; cleared by any success.
    failing_since timestamptz,
    disabled_at timestamptz,
    disabled_reason text check (disabled_reason in ('Gone', 'KeptFailing')),
    disabled_detail text,
    constraint webhook_endpoints_disabled_with_reason
        check ((disabled_at is null) = (disabled_reason is null))
);

create index webhook_endpoints_client on webhook_endpoints (client_id);

-- The outbox: written in the transaction that changed the state the event reports.
create table webhook_events (
    id uuid primary key,
    client_id uuid not null references clients (id) on delete cascade,
    type text not null check (type in (
        'import.succeeded', 'import.failed', 'signin.succeeded', 'signin.failed',
        'data.deleted')),
    -- The body sent, as `{type, timestamp, data}`.
    payload jsonb not null,
    created_at timestamptz not null default now()
);

-- One event to one endpoint. `attempts` counts claims, so it is also the fence a finished
-- attempt writes under: a worker that lost its claim (it paused past the lease and another
-- worker took over) no longer matches and changes nothing.
create table webhook_deliveries (
    endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
    event_id uuid not null references webhook_events (id) on delete cascade,
    state text not null default 'pending' check (state in ('pending', 'succeeded', 'failed')),
    attempts integer not null default 0,
    -- When it is due; while an attempt runs, when its claim lapses.
    next_attempt_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    primary key (endpoint_id, event_id)
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at)
    where state = 'pending';

create table webhook_attempts (
    id bigint generated always as identity primary key,
    endpoint_id uuid not null,
    event_id uuid not null,
    attempt integer not null,
    attempted_at timestamptz not null,
    -- The receiver's HTTP status; null when there was no answer (see `error`).
    status smallint,
    latency_ms integer not null,
    -- The start of the receiver's answer, truncated.
    response_snippet text,
    -- Why there was no acceptable answer: refused destination, timeout, connection failure.
    error text,
    foreign key (endpoint_id, event_id)
        references webhook_deliveries (endpoint_id, event_id) on delete cascade
);

create index webhook_attempts_delivery on webhook_attempts (endpoint_id, event_id, attempt);
