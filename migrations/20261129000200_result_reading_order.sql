-- Issue 13: results are read in keyset batches (the streamed result, pages, exports), newest
-- first within each account or card and status. These indexes hold exactly that order, so a
-- batch starts where the previous one ended instead of sorting the whole account again. A row
-- with neither date sorts first, as `nulls first` did for `desc`: 'infinity' stands in for it.
create index transactions_reading_order on transactions
    (account_id, status, (coalesce(booking_date, value_date, 'infinity'::date)) desc, identity);
create index card_transactions_reading_order on card_transactions
    (card_id, status, (coalesce(booking_date, transaction_date, 'infinity'::date)) desc, identity);

-- Exports find a client's finished commands by when they finished.
create index commands_client_finished on commands (client_id, finished_at, id)
    where finished_at is not null;
