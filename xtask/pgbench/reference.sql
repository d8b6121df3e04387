\set meter 9000 + :client_id
BEGIN;
UPDATE readings SET status = 'superseded' WHERE meter_id = :meter AND period = 202611 AND slot = 'ordinary' AND status = 'accepted' RETURNING id AS old \gset
INSERT INTO readings (meter_id, period, register_values, taken_on, submitted_at, source, status, slot, supersedes) VALUES (:meter, 202611, '1234', '2026-11-20', 1795165261274494724, 'subscriber', 'accepted', 'ordinary', :old);
END;
