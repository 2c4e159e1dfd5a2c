package pgkv

// The tables, created by migration 1 (PostgreSQL 9.2 SQL; bytea keys sort
// bytewise, like bbolt's; text would follow the collation).
//
//   - duban_schema: one row (id 1), the schema version of these tables;
//     the migrator's own table (migrate.go), created in the transaction
//     that runs migration 1.
//   - duban_lock: one row (id 1). Every write transaction first locks it
//     (SELECT … FOR UPDATE), so write transactions are serialised across
//     nodes as bbolt serialises them in one process.
//   - duban_buckets: a row per bucket, with its sequence.
//   - duban_kv: the keys and values of every bucket.
//   - duban_lease: the leader lease (lease.go): one row, name 'leader',
//     an empty holder and expires_at in the past while nobody holds it. term
//     only grows. Times are the database's (now()).
var migrations = []string{
	1: `
CREATE TABLE duban_lock (id integer PRIMARY KEY);
INSERT INTO duban_lock (id) VALUES (1);
CREATE TABLE duban_buckets (name bytea PRIMARY KEY, seq bigint NOT NULL DEFAULT 0);
CREATE TABLE duban_kv (
	bucket bytea NOT NULL,
	key bytea NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);
CREATE TABLE duban_lease (
	name text PRIMARY KEY,
	holder text NOT NULL,
	term bigint NOT NULL,
	expires_at timestamptz NOT NULL
);
INSERT INTO duban_lease (name, holder, term, expires_at) VALUES ('leader', '', 0, '1970-01-01 00:00:00+00');
`,
}
