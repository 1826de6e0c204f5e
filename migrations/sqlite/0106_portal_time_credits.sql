-- Credits by time attended (docs/portal.md, "Credits by time attended"): a credit system may
-- grant the units of an attendance recorded by card taps from the time between its check-in and
-- check-out instead of the event's units. NULL minutes_per_unit: per event, as before.
-- minutes_per_unit: minutes of attendance per 1 unit (rounded down to the system's unit step,
-- at most the event's units); minimum_minutes: less attendance than this grants nothing.
ALTER TABLE credit_systems ADD COLUMN minutes_per_unit BIGINT;
ALTER TABLE credit_systems ADD COLUMN minimum_minutes BIGINT;
