-- Issue 5: sign-in through the widget or a redirection, and bank secrets encrypted at rest.

-- Where a client may embed the widget (exact origins, `https://shop.example`) and where a
-- redirection may send the owner back (exact URIs). Nothing registered, nothing allowed.
alter table clients add column widget_origins text[] not null default '{}';
alter table clients add column redirect_uris text[] not null default '{}';

-- The bank's consent or token, sealed with AES-256-GCM (key from the configuration; the
-- session id is the associated data). Sessions live an hour at most, so plaintext secrets from
-- before this migration are dropped rather than converted: those sessions can no longer import.
alter table sessions drop column bank_secret;
alter table sessions add column bank_secret bytea;

-- A sign-in in progress: created when the widget opens or a redirection is asked for, ended
-- with a session (succeeded) or an error code (failed). Its id is the capability the owner's
-- browser holds; `callback_token` is the only thing the bank sees of it.
create table signins (
    id uuid primary key,
    client_id uuid not null references clients (id),
    channel text not null check (channel in ('widget', 'redirection')),
    owner_external_id text not null,
    -- Widget: the embedding page's registered origin and its per-embed state.
    parent_origin text,
    widget_state text,
    -- Redirection: the client's registered URI the owner returns to.
    redirect_uri text,
    locale text not null,
    country text,
    preselected_bank text,
    max_import_date date,
    force_sca boolean not null,
    status text not null check (status in ('picking', 'in_progress', 'succeeded', 'failed')),
    bank_id text,
    -- The step the owner is answering: what the browser may see (jsonb) and the connector's
    -- pending state (sealed like bank secrets; it can hold PKCE verifiers and consent ids).
    step jsonb,
    pending_sealed bytea,
    callback_token text unique,
    -- Set while one request answers the step (a bank call in flight): a second answer waits
    -- its turn instead of completing the same consent twice.
    answering boolean not null default false,
    session_id uuid references sessions (id),
    error_code text,
    error_detail text,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    check ((channel = 'widget') = (parent_origin is not null and widget_state is not null)),
    check ((channel = 'redirection') = (redirect_uri is not null))
);

create index signins_client on signins (client_id);
