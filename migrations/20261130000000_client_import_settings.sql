-- Two client settings that several features read: auto import (issue 15) and retention
-- (issue 12). Created together so those features share one definition.

-- Months of history an auto import fetches; null means auto import is off.
alter table clients add column auto_import_months smallint
    check (auto_import_months between 1 and 120);

-- How long a finished command's imported rows are kept, in seconds; 24 hours by default,
-- the market leader's default.
alter table clients add column retention_seconds integer not null default 86400
    check (retention_seconds between 60 and 31622400);
