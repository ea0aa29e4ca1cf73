-- One owner of a command at a time. A run of the import holds a lease on its command and
-- renews it; every write of the run is fenced on it, so a second delivery of the job never
-- clears or overwrites a live run's rows, and a run whose lease was taken over stops writing.
alter table commands
    add column lease_owner uuid,
    add column lease_until timestamptz,
    -- When the current delivery's run began: the reaper times a stuck run out from here.
    add column attempt_started_at timestamptz;

-- The codes are an enum in the code; the database refuses any other text.
alter table commands
    add constraint commands_error_code_known check (error_code in (
        'SessionExpired', 'ScaRequired', 'InvalidCredentials', 'AccessBlocked',
        'BankUnavailable', 'BankRateLimited', 'BankProtocolError', 'Timeout', 'Internal'));

-- The reaper's scan: only commands still in progress.
create index commands_in_progress on commands (created_at) where state = 'in_progress';
