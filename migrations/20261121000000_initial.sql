-- Aisle's own schema. apalis keeps its queue in the `apalis` schema (its own migrations).
-- Every result row carries its client and its command; every query filters by the client.

create table clients (
    id uuid primary key,
    name text not null,
    -- SHA-256 of the API key; the key itself is shown once and never stored.
    api_key_hash bytea not null unique,
    -- Empty means any address may call.
    allowed_ips cidr[] not null default '{}',
    created_at timestamptz not null default now()
);

create table sessions (
    id uuid primary key,
    client_id uuid not null references clients (id),
    bank_id text not null,
    owner_external_id text not null,
    -- The bank's consent or token; erased when the import ends (single access).
    bank_secret text,
    sca_at timestamptz not null,
    max_import_date date,
    force_sca boolean not null default false,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    claimed_at timestamptz
);

create index sessions_client on sessions (client_id);

create table commands (
    id uuid primary key,
    client_id uuid not null references clients (id),
    kind text not null,
    -- One Default Import per session: the claim is this unique reference.
    session_id uuid not null unique references sessions (id),
    idempotency_key text,
    state text not null check (state in ('in_progress', 'successful', 'error')),
    progress jsonb not null default '{}',
    since date not null,
    -- Runs of the import so far; the queue delivers at least once.
    attempts integer not null default 0,
    error_code text,
    error_detail text,
    created_at timestamptz not null default now(),
    finished_at timestamptz,
    unique (client_id, idempotency_key)
);

create index commands_client on commands (client_id);

create table owners (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    position integer not null,
    name text not null,
    kind text not null,
    address text,
    birth_date date,
    email text,
    phone text,
    national_id text,
    unique (command_id, position)
);

create table accounts (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    position integer not null,
    bank_account_id text not null,
    iban text,
    bban text,
    masked_pan text,
    currency text not null,
    name text,
    product text,
    account_type text,
    status text,
    owner_names text[] not null default '{}',
    unique (command_id, bank_account_id)
);

create table cards (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    position integer not null,
    bank_card_id text not null,
    masked_pan text,
    name text,
    currency text not null,
    credit_limit numeric,
    unique (command_id, bank_card_id)
);

create table balances (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    account_id uuid references accounts (id) on delete cascade,
    card_id uuid references cards (id) on delete cascade,
    position integer not null,
    balance_type text not null,
    amount numeric not null,
    currency text not null,
    reference_date date,
    check ((account_id is null) <> (card_id is null))
);

create index balances_account on balances (account_id);
create index balances_card on balances (card_id);

create table transactions (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    account_id uuid not null references accounts (id) on delete cascade,
    -- The bank's id when it has one, else a fingerprint of the row's content with an
    -- occurrence index: the same transaction seen twice is stored once.
    identity text not null,
    bank_transaction_id text,
    status text not null check (status in ('booked', 'pending')),
    booking_date date,
    value_date date,
    amount numeric not null,
    currency text not null,
    counterparty_name text,
    counterparty_account text,
    description text,
    bank_transaction_code text,
    balance_after numeric,
    unique (account_id, identity)
);

create table card_transactions (
    id uuid primary key,
    client_id uuid not null references clients (id),
    command_id uuid not null references commands (id) on delete cascade,
    card_id uuid not null references cards (id) on delete cascade,
    identity text not null,
    bank_transaction_id text,
    status text not null check (status in ('booked', 'pending')),
    transaction_date date,
    booking_date date,
    amount numeric not null,
    currency text not null,
    original_amount numeric,
    original_currency text,
    description text,
    merchant_name text,
    merchant_category_code text,
    unique (card_id, identity)
);
