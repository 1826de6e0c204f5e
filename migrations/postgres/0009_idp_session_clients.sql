-- The clients that received tokens in each idp session (JSON array of client ids). Kept when
-- sessions live in the memory of the serving process (no Redis), so that another process
-- (`shikaku admin account suspend`) can still send back-channel logout tokens to them.
ALTER TABLE sessions ADD COLUMN clients TEXT NOT NULL DEFAULT '[]';
