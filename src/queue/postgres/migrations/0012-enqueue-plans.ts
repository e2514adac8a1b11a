// Migration 12 of the PostgreSQL queue: relay_enqueue_many and relay_settle keep their plans instead of planning
// every statement (and every foreign-key check) at every call (bench/README: PostgreSQL ingest CPU).
import type { Migration } from '../../migration.js'

/** Schema version 12, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 12,
  name: 'enqueue-plans',
  released: false,
  sql: `
  -- relay_enqueue_many as migration 4 wrote it, with the same results, locks and order, but cheaper to run:
  -- under force_custom_plan every statement of it was planned again at every call, and so was the
  -- foreign-key check of each secret inserted (the check's query runs under the function's settings):
  -- about a third of the server's CPU per event. Now its statements keep generic plans, made once per
  -- connection: those that read no table but through a unique index (the inserts, their ON CONFLICT
  -- arbiters and key checks, the work on the arrays) as they are; the look-ups by name in
  -- relay_place_many, whose plan cannot depend on the tables' sizes (below); relay_lock_names alone is
  -- still planned afresh (set_config(..., true) is local to a function with a SET clause).
  --
  -- Names: a names row this call inserts is held by this transaction until it commits (another writer's
  -- insert of it waits, and no one else sees it), so only the rows that existed are locked FOR UPDATE,
  -- in relay_lock_names's order; the inserts go first and in order, as before.
  -- Where each secret of a batch goes, relay_place's rules set-wise (migration 4 tells them): for secret j
  -- of an event inserted now (p_ids[p_secret_events[j]] not NULL), whether it stays queued and, when it
  -- arrives superseded, why; the name's queued values it supersedes are marked so. Called with the names
  -- locked. Its plan is made once per connection and must not depend on the tables' sizes when made:
  -- with sequential and bitmap scans, hash and merge joins off, each row of the batch is looked up by
  -- index, names by its key and secrets through secrets_name only (status is compared with a variable,
  -- which a generic plan cannot match to the partial indexes on status = 'queued').
  CREATE FUNCTION relay_place_many(
    p_ids BIGINT[], p_event_times BIGINT[], p_received_at BIGINT[], p_secret_events INTEGER[],
    p_vaults TEXT[], p_names TEXT[], p_older_than_delivered TEXT, p_superseded_by_newer TEXT
  ) RETURNS TABLE (o_j INTEGER, o_stays BOOLEAN, o_error TEXT)
  LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off
  SET enable_bitmapscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off
  SET jit = off
  AS $fn$
  DECLARE
    v_queued CONSTANT TEXT := 'queued';
  BEGIN
    RETURN QUERY
      WITH input AS (
        SELECT k.j::int AS j, k.e, k.v, k.n, p_event_times[k.e] AS et, p_received_at[k.e] AS at
        FROM unnest(p_secret_events, p_vaults, p_names) WITH ORDINALITY AS k(e, v, n, j)
        WHERE p_ids[k.e] IS NOT NULL
      ), decided AS (
        SELECT i.*, CASE
            WHEN nm.delivered_event_time > i.et THEN p_older_than_delivered
            WHEN MAX(i.et) OVER earlier > i.et
              OR EXISTS (SELECT 1 FROM secrets q WHERE q.vault = i.v AND q.name = i.n
                AND q.status = v_queued AND q.event_time > i.et)
              THEN p_superseded_by_newer
          END AS error
        FROM input i LEFT JOIN names nm ON nm.vault = i.v AND nm.name = i.n
        WINDOW earlier AS (PARTITION BY i.v, i.n ORDER BY i.j ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
      ), placed AS (
        SELECT d.*, d.error IS NULL
            AND d.j = MAX(d.j) FILTER (WHERE d.error IS NULL) OVER (PARTITION BY d.v, d.n) AS stays
        FROM decided d
      ), gone AS (
        UPDATE secrets q SET status = 'superseded', sealed = NULL, next_attempt_at = NULL,
            last_error = p_superseded_by_newer, updated_at = o.at
          FROM (SELECT s.id, p.at FROM placed p
            CROSS JOIN LATERAL (SELECT s.id FROM secrets s
              WHERE s.vault = p.v AND s.name = p.n AND s.status = v_queued OFFSET 0) s
            WHERE p.stays) o
          WHERE q.id = o.id
      )
      SELECT p.j, p.stays, p.error FROM placed p;
  END
  $fn$;

  CREATE OR REPLACE FUNCTION relay_enqueue_many(
    p_sources TEXT[], p_event_ids TEXT[], p_event_times BIGINT[], p_received_at BIGINT[],
    p_secret_events INTEGER[], p_vaults TEXT[], p_names TEXT[], p_descriptions TEXT[], p_sealed BYTEA[],
    p_refs TEXT[], p_fingerprints TEXT[], p_older_than_delivered TEXT, p_superseded_by_newer TEXT
  ) RETURNS TABLE (duplicate BOOLEAN, queued INTEGER, superseded INTEGER)
  LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan
  AS $fn$
  DECLARE
    v_ids BIGINT[];
    v_lock_vaults TEXT[];
    v_lock_names TEXT[];
    v_old_vaults TEXT[];
    v_old_names TEXT[];
    v_j INTEGER[];
    v_stays BOOLEAN[];
    v_errors TEXT[];
  BEGIN
    -- the id of each event inserted now, NULL for a duplicate (the first of one id in the batch wins)
    WITH ins AS (
      INSERT INTO events (source, event_id, event_time, received_at)
        SELECT k.s, k.e, k.t, k.r
        FROM unnest(p_sources, p_event_ids, p_event_times, p_received_at) WITH ORDINALITY AS k(s, e, t, r, i)
        ORDER BY k.s COLLATE "C", k.e COLLATE "C", k.i
        ON CONFLICT (source, event_id) DO NOTHING
        RETURNING id, source, event_id
    ), firsts AS (
      SELECT k.i, k.i = MIN(k.i) OVER (PARTITION BY k.s, k.e) AS first, ins.id
      FROM unnest(p_sources, p_event_ids) WITH ORDINALITY AS k(s, e, i)
        LEFT JOIN ins ON ins.source = k.s AND ins.event_id = k.e
    )
    SELECT array_agg(CASE WHEN first THEN id END ORDER BY i) INTO v_ids FROM firsts;

    SELECT array_agg(k.v), array_agg(k.n) INTO v_lock_vaults, v_lock_names
      FROM unnest(p_secret_events, p_vaults, p_names) AS k(e, v, n) WHERE v_ids[k.e] IS NOT NULL;
    IF v_lock_vaults IS NULL THEN
      RETURN QUERY SELECT v_ids[k.i] IS NULL, 0, 0
        FROM generate_series(1, COALESCE(cardinality(p_sources), 0)) AS k(i) ORDER BY k.i;
      RETURN;
    END IF;
    -- relay_lock_names's inserts, keeping the rows that were there already
    WITH ins AS (
      INSERT INTO names (vault, name, updated_at)
        SELECT DISTINCT v, n, (SELECT MAX(r) FROM unnest(p_received_at) AS r)
        FROM unnest(v_lock_vaults, v_lock_names) AS k(v, n)
        ORDER BY v, n
        ON CONFLICT (vault, name) DO NOTHING
        RETURNING vault, name
    )
    SELECT array_agg(k.v), array_agg(k.n) INTO v_old_vaults, v_old_names
      FROM unnest(v_lock_vaults, v_lock_names) AS k(v, n)
      WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.vault = k.v AND ins.name = k.n);

    IF v_old_vaults IS NOT NULL THEN
      PERFORM set_config('plan_cache_mode', 'force_custom_plan', true);
      PERFORM relay_lock_names(v_old_vaults, v_old_names, NULL);
      PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    END IF;
    -- a fresh snapshot (this statement starts after the locks are held): every committed value counts
    SELECT array_agg(p.o_j ORDER BY p.o_j), array_agg(p.o_stays ORDER BY p.o_j), array_agg(p.o_error ORDER BY p.o_j)
      INTO v_j, v_stays, v_errors
      FROM relay_place_many(v_ids, p_event_times, p_received_at, p_secret_events, p_vaults, p_names,
        p_older_than_delivered, p_superseded_by_newer) AS p;

    INSERT INTO secrets (event, vault, name, description, sealed, ref, fingerprint, event_time, status,
        next_attempt_at, last_error, created_at, updated_at)
      SELECT v_ids[p_secret_events[p.j]], p_vaults[p.j], p_names[p.j], p_descriptions[p.j],
        CASE WHEN p.stays THEN p_sealed[p.j] END, p_refs[p.j], p_fingerprints[p.j],
        p_event_times[p_secret_events[p.j]], CASE WHEN p.stays THEN 'queued' ELSE 'superseded' END,
        CASE WHEN p.stays THEN p_received_at[p_secret_events[p.j]] END,
        CASE WHEN NOT p.stays THEN COALESCE(p.error, p_superseded_by_newer) END,
        p_received_at[p_secret_events[p.j]], p_received_at[p_secret_events[p.j]]
      FROM unnest(v_j, v_stays, v_errors) AS p(j, stays, error) ORDER BY p.j;

    RETURN QUERY SELECT v_ids[k.i] IS NULL, COALESCE(c.q, 0), COALESCE(c.s, 0)
      FROM generate_series(1, COALESCE(cardinality(p_sources), 0)) AS k(i)
        LEFT JOIN (
          SELECT p_secret_events[p.j] AS e, (COUNT(*) FILTER (WHERE p.error IS NULL))::int AS q,
            (COUNT(*) FILTER (WHERE p.error IS NOT NULL))::int AS s
          FROM unnest(v_j, v_errors) AS p(j, error) GROUP BY 1
        ) c ON c.e = k.i
      ORDER BY k.i;
  END
  $fn$;

  -- relay_settle as migration 6 wrote it, keeping its plans too: planned at every call it spent more CPU
  -- planning than running (bench/README). Its statements already go by primary key alone (sequential
  -- and bitmap scans, hash and merge joins off); the names lock now reaches each names row from its
  -- secret (LATERAL), in the names' order, where the join could have been turned around.
  CREATE OR REPLACE FUNCTION relay_settle(
    p_owner TEXT, p_now BIGINT, p_ids BIGINT[], p_kinds TEXT[], p_versions BIGINT[], p_fingerprints TEXT[],
    p_at BIGINT[], p_errors TEXT[], p_counts INTEGER[], p_solos BOOLEAN[],
    p_attempt_secrets BIGINT[] DEFAULT NULL, p_attempt_at BIGINT[] DEFAULT NULL,
    p_attempt_outcomes TEXT[] DEFAULT NULL, p_attempt_statuses TEXT[] DEFAULT NULL,
    p_attempt_versions BIGINT[] DEFAULT NULL, p_attempt_errors TEXT[] DEFAULT NULL
  ) RETURNS VOID LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan
  -- secrets by id, names by primary key, never a scan of either table, whatever their sizes
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off
  SET jit = off
  AS $fn$
  BEGIN
    -- the secrets first (by id, in their names' order), then each name locked by key in that order: the
    -- lateral look-up can only follow them (OFFSET 0 keeps the planner from merging the two)
    PERFORM 1 FROM (SELECT s.id, s.vault, s.name FROM secrets s WHERE s.id = ANY(p_ids)
        ORDER BY s.vault, s.name OFFSET 0) o
      CROSS JOIN LATERAL (SELECT 1 FROM names n WHERE n.vault = o.vault AND n.name = o.name
        AND n.lease_secret = o.id AND n.lease_owner = p_owner FOR UPDATE) l;
    -- a fresh snapshot, after the locks: these leases are p_owner's until this transaction ends
    WITH o AS (
      SELECT DISTINCT ON (k.id) k.*, k.kind IN ('dead', 'superseded') AS finish
      FROM unnest(p_ids, p_kinds, p_versions, p_fingerprints, p_at, p_errors, p_counts, p_solos)
        WITH ORDINALITY AS k(id, kind, version, fingerprint, at, error, count, solo, i)
      ORDER BY k.id, k.i
    ), d AS (
      UPDATE secrets s SET updated_at = p_now,
          status = CASE WHEN s.status <> 'queued' THEN s.status WHEN o.kind = 'delivered' THEN 'delivered'
            WHEN o.finish THEN o.kind ELSE s.status END,
          sealed = CASE WHEN o.kind = 'delivered' OR (o.finish AND s.status = 'queued') THEN NULL
            ELSE s.sealed END,
          next_attempt_at = CASE WHEN o.kind = 'delivered' OR (o.finish AND s.status = 'queued') THEN NULL
            WHEN o.kind = 'retry' AND s.status = 'queued' THEN o.at ELSE s.next_attempt_at END,
          attempts = s.attempts + CASE WHEN o.kind = 'delivered' THEN 1
            WHEN o.kind = 'retry' AND s.status = 'queued' THEN o.count ELSE 0 END,
          last_error = CASE WHEN o.kind <> 'delivered' AND s.status = 'queued' THEN o.error
            ELSE s.last_error END,
          solo = CASE WHEN o.kind = 'retry' AND s.status = 'queued' THEN COALESCE(o.solo, s.solo)
            ELSE s.solo END,
          delivered_at = CASE WHEN o.kind = 'delivered' THEN p_now ELSE s.delivered_at END,
          rwx_version = CASE WHEN o.kind = 'delivered' THEN o.version ELSE s.rwx_version END,
          fingerprint = CASE WHEN o.kind = 'delivered' THEN COALESCE(o.fingerprint, s.fingerprint)
            ELSE s.fingerprint END
        FROM o, names n
        WHERE s.id = o.id AND n.vault = s.vault AND n.name = s.name
          AND n.lease_secret = o.id AND n.lease_owner = p_owner
        -- whether the watermark moves: a delivered value newer (by event time, then arrival) than its own
        RETURNING s.id, s.vault, s.name, s.event_time, o.version, o.kind = 'delivered'
          AND (n.delivered_event_time IS NULL
            OR (s.event_time, s.id) > (n.delivered_event_time, n.delivered_secret_id)) AS newest
    ), tried AS (
      INSERT INTO attempts (secret, at, outcome, status, version, error)
        SELECT a.secret, a.at, a.outcome, a.status, a.version, a.error
        FROM unnest(p_attempt_secrets, p_attempt_at, p_attempt_outcomes, p_attempt_statuses,
            p_attempt_versions, p_attempt_errors) WITH ORDINALITY AS a(secret, at, outcome, status, version, error, i)
          JOIN secrets s ON s.id = a.secret
        ORDER BY a.i
    )
    -- one lease per name, so one outcome per names row
    UPDATE names n SET lease_secret = NULL, lease_owner = NULL, lease_until = NULL,
        delivered_event_time = CASE WHEN d.newest THEN d.event_time ELSE n.delivered_event_time END,
        delivered_secret_id = CASE WHEN d.newest THEN d.id ELSE n.delivered_secret_id END,
        rwx_version = CASE WHEN d.newest THEN d.version ELSE n.rwx_version END,
        updated_at = CASE WHEN d.newest THEN p_now ELSE n.updated_at END
      FROM d WHERE n.vault = d.vault AND n.name = d.name;
  END
  $fn$;
`,
}
