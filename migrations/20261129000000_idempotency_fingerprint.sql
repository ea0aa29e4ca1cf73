-- What the client sent with an Idempotency-Key (a SHA-256 of its session, signature and
-- `since` as given, not the default Aisle computed), so that a second request under the
-- same key is answered with the first command only when it is the same request, and
-- refused as a conflict otherwise. Commands made before this column compare by session.
alter table commands add column idempotency_fingerprint bytea
    constraint commands_idempotency_fingerprint_sha256 check (octet_length(idempotency_fingerprint) = 32);
