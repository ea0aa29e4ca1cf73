-- A command's imported rows are deleted when its client's retention ends or when the client
-- asks; the command row stays, and says when and why its data went.
alter table commands
    add column data_deleted_at timestamptz,
    add column data_deleted_by text check (data_deleted_by in ('retention', 'request')),
    add constraint commands_data_deleted_with_reason
        check ((data_deleted_at is null) = (data_deleted_by is null));

-- The retention job's scan: per client, the finished commands whose data is still kept, by
-- when they finished, so that finding the due ones never walks the kept or the deleted ones.
create index commands_data_kept on commands (client_id, finished_at)
    where finished_at is not null and data_deleted_at is null;

-- Deleting an owner's data finds their commands through their sessions.
create index sessions_client_owner on sessions (client_id, owner_external_id);
