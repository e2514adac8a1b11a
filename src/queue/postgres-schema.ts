// The PostgreSQL queue schema: versioned migrations, applied under an advisory lock so replicas can start together.
import type pg from 'pg'
import { BATCHED_STATEMENTS } from './postgres-batched.js'
import { NAME_LEASE_STATEMENTS } from './postgres-name-leases.js'
import { transaction } from './postgres-pool.js'

/**
 * Schema versions, applied in order; `schema_migrations` holds one row per version applied. Append new
 * versions, never edit a shipped one: databases in the field have already run it.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (source, event_id)
  );
  CREATE INDEX events_received ON events (received_at, id);
  CREATE INDEX events_source_received ON events (source, received_at, id);

  -- vault and name sort by bytes ("C"), so every process locks names in the same order as it sorts them
  CREATE TABLE secrets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event BIGINT NOT NULL REFERENCES events (id),
    vault TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT,
    sealed BYTEA,
    ref TEXT,
    fingerprint TEXT,
    event_time BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'dead', 'superseded', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    solo BOOLEAN NOT NULL DEFAULT FALSE,
    last_error TEXT,
    rwx_version BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT,
    -- a value lives only while it waits: any other status without erasing it is a bug, so refuse it
    CHECK (status = 'queued' OR sealed IS NULL)
  );
  CREATE INDEX secrets_due ON secrets (next_attempt_at, id) WHERE status = 'queued';
  CREATE INDEX secrets_name ON secrets (vault, name, status);
  CREATE INDEX secrets_event ON secrets (event, status);
  CREATE INDEX secrets_leased ON secrets (vault, name, lease_until) WHERE lease_owner IS NOT NULL;
  CREATE INDEX secrets_owner ON secrets (lease_owner) WHERE lease_owner IS NOT NULL;

  -- One row per vault and name: the lock that serializes every writer of the name across replicas,
  -- and the never-regress watermark (the newest value, by event time then arrival, written to RWX).
  CREATE TABLE names (
    vault TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    delivered_event_time BIGINT,
    delivered_secret_id BIGINT,
    rwx_version BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (vault, name),
    CHECK ((delivered_event_time IS NULL) = (delivered_secret_id IS NULL))
  );

  -- An erased value (sealed = NULL) stays in the old row version until vacuum removes it: vacuum these
  -- tables after a fixed number of changed rows, not after a fraction of a table that keeps growing.
  ALTER TABLE secrets SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000,
    toast.autovacuum_vacuum_scale_factor = 0, toast.autovacuum_vacuum_threshold = 100
  );
  ALTER TABLE names SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
  `,
  `
  -- claims take whole vaults (a request carries one vault): a vault's due secrets in due order, without
  -- reading other vaults' or sorting the vault's backlog. Every queued secret has a next_attempt_at; the
  -- predicate says so that only queries bounding it (the claim) can use this index: a look-up by vault,
  -- name and status without statistics (a new database) would otherwise walk the vault's whole backlog
  -- here instead of using secrets_name.
  CREATE INDEX secrets_vault_due ON secrets (vault, next_attempt_at, id)
    WHERE status = 'queued' AND next_attempt_at IS NOT NULL;
  `,
  `
  -- The never-regress rules of a name, in the database: the one definition every writer uses, the
  -- enqueue below and the TypeScript side (postgres-names.ts) alike.
  --
  -- Locks the names rows of (p_vaults[i], p_names[i]) until the transaction ends, in one order (by bytes:
  -- the columns are "C"), so two writers of overlapping names never deadlock. With p_now, missing rows
  -- are made first (a name seen for the first time).
  CREATE FUNCTION relay_lock_names(p_vaults TEXT[], p_names TEXT[], p_now BIGINT) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  BEGIN
    IF p_now IS NOT NULL THEN
      INSERT INTO names (vault, name, updated_at)
        SELECT DISTINCT v, n, p_now FROM unnest(p_vaults, p_names) AS k(v, n)
        ORDER BY v, n
        ON CONFLICT (vault, name) DO NOTHING;
    END IF;
    PERFORM 1 FROM names WHERE (vault, name) IN (SELECT * FROM unnest(p_vaults, p_names))
      ORDER BY vault, name FOR UPDATE;
  END
  $fn$;

  -- Where a secret of a name at p_event_time goes, ordering the name's values by (event time, arrival
  -- id): NULL to wait for delivery, else why it is superseded on the spot. Call holding the name's lock.
  CREATE FUNCTION relay_place(
    p_vault TEXT, p_name TEXT, p_event_time BIGINT, p_id BIGINT,
    p_older_than_delivered TEXT, p_superseded_by_newer TEXT
  ) RETURNS TEXT LANGUAGE plpgsql AS $fn$
  BEGIN
    IF EXISTS (SELECT 1 FROM names WHERE vault = p_vault AND name = p_name
        AND (delivered_event_time > p_event_time
          OR (delivered_event_time = p_event_time AND delivered_secret_id > p_id))) THEN
      RETURN p_older_than_delivered;
    END IF;
    IF EXISTS (SELECT 1 FROM secrets WHERE vault = p_vault AND name = p_name AND status = 'queued'
        AND (event_time > p_event_time OR (event_time = p_event_time AND id > p_id))) THEN
      RETURN p_superseded_by_newer;
    END IF;
    RETURN NULL;
  END
  $fn$;

  -- Supersedes and erases every other queued value of the name (call once p_id is queued, holding the
  -- name's lock); returns how many. The lease stays: see postgres-names.ts.
  CREATE FUNCTION relay_supersede_others(
    p_vault TEXT, p_name TEXT, p_id BIGINT, p_now BIGINT, p_superseded_by_newer TEXT
  ) RETURNS INTEGER LANGUAGE plpgsql AS $fn$
  DECLARE
    v_count INTEGER;
  BEGIN
    UPDATE secrets SET status = 'superseded', sealed = NULL, next_attempt_at = NULL,
        last_error = p_superseded_by_newer, updated_at = p_now
      WHERE vault = p_vault AND name = p_name AND status = 'queued' AND id <> p_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
  END
  $fn$;

  -- One event recorded in one statement (one round trip, its own transaction): the dedup insert, the
  -- names locked, then each secret placed, inserted, and, if queued, superseding the name's other
  -- queued values.
  CREATE FUNCTION relay_enqueue(
    p_source TEXT, p_event_id TEXT, p_event_time BIGINT, p_received_at BIGINT,
    p_vaults TEXT[], p_names TEXT[], p_descriptions TEXT[], p_sealed BYTEA[], p_refs TEXT[],
    p_fingerprints TEXT[], p_older_than_delivered TEXT, p_superseded_by_newer TEXT,
    OUT duplicate BOOLEAN, OUT queued INTEGER, OUT superseded INTEGER
  ) LANGUAGE plpgsql
  -- PL/pgSQL caches its statements' plans: one made while a new database was empty would go on scanning
  -- the tables whole as they grow (until the next ANALYZE). Plan each call for the data it meets (the
  -- functions it calls run under the same setting).
  SET plan_cache_mode = force_custom_plan
  AS $fn$
  DECLARE
    v_event BIGINT;
    v_secret BIGINT;
    v_error TEXT;
    -- a secret not inserted yet arrives after every row already there
    v_not_yet CONSTANT BIGINT := 9007199254740991;
  BEGIN
    duplicate := FALSE;
    queued := 0;
    superseded := 0;
    INSERT INTO events (source, event_id, event_time, received_at)
      VALUES (p_source, p_event_id, p_event_time, p_received_at)
      ON CONFLICT (source, event_id) DO NOTHING RETURNING id INTO v_event;
    IF v_event IS NULL THEN
      duplicate := TRUE;
      RETURN;
    END IF;
    IF COALESCE(cardinality(p_vaults), 0) = 0 THEN
      RETURN;
    END IF;
    PERFORM relay_lock_names(p_vaults, p_names, p_received_at);
    FOR i IN 1 .. cardinality(p_vaults) LOOP
      v_error := relay_place(p_vaults[i], p_names[i], p_event_time, v_not_yet,
        p_older_than_delivered, p_superseded_by_newer);
      INSERT INTO secrets (event, vault, name, description, sealed, ref, fingerprint, event_time, status,
          next_attempt_at, last_error, created_at, updated_at)
        VALUES (v_event, p_vaults[i], p_names[i], p_descriptions[i],
          CASE WHEN v_error IS NULL THEN p_sealed[i] END, p_refs[i], p_fingerprints[i], p_event_time,
          CASE WHEN v_error IS NULL THEN 'queued' ELSE 'superseded' END,
          CASE WHEN v_error IS NULL THEN p_received_at END, v_error, p_received_at, p_received_at)
        RETURNING id INTO v_secret;
      IF v_error IS NULL THEN
        PERFORM relay_supersede_others(p_vaults[i], p_names[i], v_secret, p_received_at,
          p_superseded_by_newer);
        queued := queued + 1;
      ELSE
        superseded := superseded + 1;
      END IF;
    END LOOP;
  END
  $fn$;
  `,
  BATCHED_STATEMENTS,
  `
  -- operations: the global pause switch (one row every replica reads), and provenance (how an event was
  -- verified and mapped, and every attempt of its secrets); never a key or a value. Both go with their
  -- event on purge.
  CREATE TABLE control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    changed_at BIGINT,
    reason TEXT
  );
  INSERT INTO control (id, paused) VALUES (1, FALSE);

  CREATE TABLE event_provenance (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    verifier TEXT NOT NULL,
    key_id TEXT,
    rules TEXT[] NOT NULL,
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES events (source, event_id) ON DELETE CASCADE
  );

  CREATE TABLE attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret BIGINT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    status TEXT,
    version BIGINT,
    error TEXT
  );
  CREATE INDEX attempts_secret ON attempts (secret, id);
  CREATE INDEX attempts_outside ON attempts (at, id) WHERE outcome = 'outside-change';
  `,
  NAME_LEASE_STATEMENTS,
]

/** The advisory lock key migrations run under (any fixed number; "vrelay" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x7672_656c_6179

/** How long migrating (or waiting for another replica's migration) may take. */
const MIGRATION_TIMEOUT_MS = 5 * 60_000

/** A statement allowed the migration timeout on the client side too (pg takes `query_timeout` per query). */
function long(text: string, values?: unknown[]): pg.QueryConfig {
  return { text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig
}

/**
 * Brings the database to the latest schema version in one transaction, holding a transaction-level
 * advisory lock: replicas starting together apply each version once, and the others wait, then find it
 * done. Throws when the database is newer than this relay. Returns the versions it applied.
 */
export async function migrate(pool: pg.Pool): Promise<number> {
  return transaction(pool, async (client) => {
    // another replica may hold the lock while it migrates: wait longer than a normal statement
    await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`)
    await client.query(long('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]))
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0)::int AS version FROM schema_migrations',
    )
    const current = rows[0]?.version ?? 0
    if (current > MIGRATIONS.length) {
      throw new Error(
        `queue database schema version ${current} is newer than this relay knows (${MIGRATIONS.length})`,
      )
    }
    for (const [i, sql] of MIGRATIONS.entries()) {
      if (i < current) continue
      await client.query(long(sql))
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1])
    }
    return MIGRATIONS.length - current
  })
}
