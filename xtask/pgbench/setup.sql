-- Ceiling measurement of issue 5 (docs/performance.md, "What the database alone can do"):
-- run on the database `cargo xtask bench http --backend postgres` leaves behind
-- (abonent_bench_http: 64 bench cabinets linked to ЛС 9000..9063, meters 9000..9063, each
-- with an accepted reading of 2026-11). Gives each cabinet a session whose token digest
-- pgbench can compute (md5('bench'||c) || md5('x'||c)), c = pgbench's client_id.
INSERT INTO sessions (id, subscriber_id, token_digest, created_at, last_seen_at, revoked_at, channel, device)
SELECT md5('pgb' || (a.id - 9000)), l.subscriber_id,
       decode(md5('bench' || (a.id - 9000)) || md5('x' || (a.id - 9000)), 'hex'),
       1795165261274494724, 1795165261274494724, NULL, 'web', 'pgbench'
FROM linked_accounts l
JOIN accounts a ON a.number = l.number AND cast(a.supplier_id AS text) = l.supplier
WHERE a.id BETWEEN 9000 AND 9063
ON CONFLICT DO NOTHING;
