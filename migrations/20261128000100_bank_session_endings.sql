-- Bank sessions still to be ended at the bank. Erasing a session's secret moves it here in the
-- same statement; the row goes once the bank has ended the session (or refused for good). A
-- worker killed between erasing and ending leaves the row to the reaper, so no consent
-- outlives its import because a process died.
create table bank_session_endings (
    session_id uuid primary key references sessions (id),
    client_id uuid not null references clients (id),
    bank_id text not null,
    -- Sealed like sessions.bank_secret, with the session's id.
    sealed bytea not null,
    sca_at timestamptz not null,
    tries integer not null default 0,
    next_try_at timestamptz not null,
    created_at timestamptz not null default now()
);

create index bank_session_endings_due on bank_session_endings (next_try_at);
