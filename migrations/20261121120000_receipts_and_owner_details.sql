-- Issue 4: every account and card carries the receipt of its import (history requested and
-- obtained, counts, shortfalls with reasons, the balance continuity check). It is written once,
-- with the rows, and read back whole, so jsonb is the honest shape.
alter table accounts add column receipt jsonb;
alter table cards add column receipt jsonb;

-- Issue 3: what the partner account API says about owners and accounts beyond Berlin Group.
alter table owners add column title text;
alter table owners add column nationality text;
alter table accounts add column opened_on date;
alter table accounts add column valid_until date;
alter table accounts add column min_allowed_balance numeric;
alter table accounts add column max_allowed_balance numeric;

-- A transaction belongs to its account (and through it to the command and the client, whose
-- ids it repeats for the queries' filters); checking all three keys on every row made storing
-- a large history slow for no added safety.
alter table transactions drop constraint transactions_client_id_fkey;
alter table transactions drop constraint transactions_command_id_fkey;
alter table card_transactions drop constraint card_transactions_client_id_fkey;
alter table card_transactions drop constraint card_transactions_command_id_fkey;
