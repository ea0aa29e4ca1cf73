-- Issue 15: auto import, and the owner view.

-- The months of history the import a sign-in starts by itself will fetch, decided when the
-- sign-in opened from the client's setting (`clients.auto_import_months`) and the opener's
-- override; null when the sign-in starts no import.
alter table signins add column auto_import_months smallint
    check (auto_import_months between 1 and 120);

-- Who started a command: the client's request (`api`) or Aisle itself when the sign-in
-- succeeded (`auto_import`). A client that posts Default Import with a session an auto
-- import claimed is answered with that command instead of a conflict.
alter table commands add column started_by text not null default 'api'
    check (started_by in ('api', 'auto_import'));

-- The owner view reads every command of one owner of one client.
create index sessions_client_owner on sessions (client_id, owner_external_id);
