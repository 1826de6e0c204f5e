-- The account page lists an account's latest sign-ins from the audit log.
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
