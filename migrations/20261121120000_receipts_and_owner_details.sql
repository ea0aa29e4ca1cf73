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
