// Migration 3 of the PostgreSQL queue: the never-regress rules as functions (lock names, place, supersede) and
// relay_enqueue, one event recorded in one statement.
import type { Migration } from '../../migration.js'

/** Schema version 3, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 3,
  name: 'never-regress-functions',
  released: true,
  sql: `
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
}
