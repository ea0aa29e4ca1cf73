-- Browser binding (issue 12): a bank attempt may be finished only by the browser that began it
-- (`browser_hash`, the SHA-256 of the cookie it holds), and a widget's session goes to its
-- frame only for the one-time completion code (`completion_hash`) the finishing window got.
-- Only hashes are kept: a database dump neither finishes a sign-in nor claims a session.
alter table signins
    add column browser_hash bytea,
    add column completion_hash bytea,
    add column completion_expires_at timestamptz;
