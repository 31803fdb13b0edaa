-- Why a customer returns an item: their own words (masked, bounded) and the kind we read
-- from them ("damaged", "wrong_size", "changed_mind", "other", ...). Both are optional: a
-- return booked before the bot asked, or by a customer who would rather not say, has none.

ALTER TABLE return_requests
    ADD COLUMN reason       text CHECK (length(reason) <= 300),
    ADD COLUMN reason_kind  text CHECK (reason_kind ~ '^[a-z_]{1,32}$');
