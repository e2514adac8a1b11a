// Migration 4 of the PostgreSQL queue: the batched writes, each one statement and one round trip: concurrent
// events enqueued together (group commit), a claim, and a settle that gives the lease back with the outcome.
import type { Migration } from '../../migration.js'

/** Schema version 4, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 4,
  name: 'batched-writes',
  released: true,
  sql: `
  -- Group commit: the events of concurrent requests recorded in one statement (one round trip, one
  -- transaction, one WAL flush), each as relay_enqueue would record it alone. Event i is
  -- (p_sources[i], p_event_ids[i], p_event_times[i], p_received_at[i]); secret j belongs to event
  -- p_secret_events[j] (1-based; the events' secrets in their order). Returns one row per event, in order.
  --
  -- No deadlock across replicas: the dedup inserts go in one order (by bytes), and every names row is
  -- locked after them, in one order too (relay_lock_names), before any secret is written.
  --
  -- The secrets are decided set-wise, with a statement per step for the whole batch rather than per
  -- secret (relay_place's rules, as if each secret arrived alone in the order given): a secret is
  -- superseded on arrival when its name's delivered value is newer (older than delivered), or a queued
  -- value of its name, already there or earlier in the batch, is newer (superseded by newer). Of the
  -- secrets of a name queued on arrival, the last one stays queued; the others, and the name's queued
  -- values already there, are superseded by it (their values erased; a lease stays, as in
  -- relay_supersede_others). A value superseded within the batch is never written.
  CREATE FUNCTION relay_enqueue_many(
    p_sources TEXT[], p_event_ids TEXT[], p_event_times BIGINT[], p_received_at BIGINT[],
    p_secret_events INTEGER[], p_vaults TEXT[], p_names TEXT[], p_descriptions TEXT[], p_sealed BYTEA[],
    p_refs TEXT[], p_fingerprints TEXT[], p_older_than_delivered TEXT, p_superseded_by_newer TEXT
  ) RETURNS TABLE (duplicate BOOLEAN, queued INTEGER, superseded INTEGER)
  LANGUAGE plpgsql
  -- as relay_enqueue: plan each statement for the data it meets, not for the empty tables of a new database
  SET plan_cache_mode = force_custom_plan
  AS $fn$
  DECLARE
    v_ids BIGINT[];
    v_lock_vaults TEXT[];
    v_lock_names TEXT[];
    v_e INTEGER[];
    v_queued INTEGER[];
    v_superseded INTEGER[];
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
    IF v_lock_vaults IS NOT NULL THEN
      PERFORM relay_lock_names(v_lock_vaults, v_lock_names, (SELECT MAX(r) FROM unnest(p_received_at) AS r));
      -- a fresh snapshot (this statement starts after the locks are held): every committed value counts
      WITH input AS (
        SELECT k.j, k.e, k.v, k.n, p_event_times[k.e] AS et, p_received_at[k.e] AS at
        FROM unnest(p_secret_events, p_vaults, p_names) WITH ORDINALITY AS k(e, v, n, j)
        WHERE v_ids[k.e] IS NOT NULL
      ), decided AS (
        SELECT i.*, CASE
            WHEN nm.delivered_event_time > i.et THEN p_older_than_delivered
            WHEN MAX(i.et) OVER earlier > i.et
              OR EXISTS (SELECT 1 FROM secrets q WHERE q.vault = i.v AND q.name = i.n
                AND q.status = 'queued' AND q.event_time > i.et)
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
            last_error = p_superseded_by_newer, updated_at = p.at
          FROM placed p WHERE p.stays AND q.vault = p.v AND q.name = p.n AND q.status = 'queued'
      ), written AS (
        INSERT INTO secrets (event, vault, name, description, sealed, ref, fingerprint, event_time, status,
            next_attempt_at, last_error, created_at, updated_at)
          SELECT v_ids[p.e], p.v, p.n, p_descriptions[p.j], CASE WHEN p.stays THEN p_sealed[p.j] END,
            p_refs[p.j], p_fingerprints[p.j], p.et, CASE WHEN p.stays THEN 'queued' ELSE 'superseded' END,
            CASE WHEN p.stays THEN p.at END, CASE WHEN NOT p.stays THEN COALESCE(p.error, p_superseded_by_newer) END,
            p.at, p.at
          FROM placed p ORDER BY p.j
      ), counted AS (
        SELECT p.e, COUNT(*) FILTER (WHERE p.error IS NULL)::int AS q,
          COUNT(*) FILTER (WHERE p.error IS NOT NULL)::int AS s
        FROM placed p GROUP BY p.e
      )
      SELECT array_agg(c.e), array_agg(c.q), array_agg(c.s) INTO v_e, v_queued, v_superseded FROM counted c;
    END IF;
    RETURN QUERY SELECT v_ids[k.i] IS NULL, COALESCE(c.q, 0), COALESCE(c.s, 0)
      FROM generate_series(1, COALESCE(cardinality(p_sources), 0)) AS k(i)
        LEFT JOIN unnest(v_e, v_queued, v_superseded) AS c(e, q, s) ON c.e = k.i
      ORDER BY k.i;
  END
  $fn$;

  -- Delivery outcomes recorded in one statement (one round trip, its own transaction), and each secret's
  -- row rewritten once: the lease given back in the same update as the outcome. Outcome i is for secret
  -- p_ids[i] (the first of an id counts), of kind 'delivered' (p_versions, p_fingerprints), 'retry'
  -- (p_at, p_errors, p_counts: attempts used, p_solos), 'dead' or 'superseded' (p_errors). Secrets whose
  -- lease p_owner no longer holds are left alone. Names are locked first, the order every writer keeps.
  -- Delivered while superseded (in flight) stays superseded, but RWX did get it: that is recorded, and
  -- the watermark moves to the newest value delivered per name. A retry, dead or superseded outcome
  -- changes only a secret still queued (an admin discard or a newer value may have finished it).
  CREATE FUNCTION relay_settle(
    p_owner TEXT, p_now BIGINT, p_ids BIGINT[], p_kinds TEXT[], p_versions BIGINT[], p_fingerprints TEXT[],
    p_at BIGINT[], p_errors TEXT[], p_counts INTEGER[], p_solos BOOLEAN[]
  ) RETURNS VOID LANGUAGE plpgsql
  SET plan_cache_mode = force_custom_plan
  AS $fn$
  DECLARE
    v_vaults TEXT[];
    v_names TEXT[];
  BEGIN
    SELECT array_agg(vault), array_agg(name) INTO v_vaults, v_names
      FROM secrets WHERE id = ANY(p_ids) AND lease_owner = p_owner;
    IF v_vaults IS NULL THEN
      RETURN;
    END IF;
    PERFORM relay_lock_names(v_vaults, v_names, NULL);
    WITH o AS (
      SELECT DISTINCT ON (k.id) k.*, k.kind IN ('dead', 'superseded') AS finish
      FROM unnest(p_ids, p_kinds, p_versions, p_fingerprints, p_at, p_errors, p_counts, p_solos)
        WITH ORDINALITY AS k(id, kind, version, fingerprint, at, error, count, solo, i)
      ORDER BY k.id, k.i
    ), d AS (
      UPDATE secrets s SET lease_owner = NULL, lease_until = NULL, updated_at = p_now,
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
        FROM o WHERE s.id = o.id AND s.lease_owner = p_owner
        RETURNING s.id, s.vault, s.name, s.event_time, o.kind, o.version
    )
    INSERT INTO names (vault, name, delivered_event_time, delivered_secret_id, rwx_version, updated_at)
      SELECT DISTINCT ON (d.vault, d.name) d.vault, d.name, d.event_time, d.id, d.version, p_now
      FROM d WHERE d.kind = 'delivered'
      ORDER BY d.vault, d.name, d.event_time DESC, d.id DESC
      ON CONFLICT (vault, name) DO UPDATE SET delivered_event_time = excluded.delivered_event_time,
        delivered_secret_id = excluded.delivered_secret_id, rwx_version = excluded.rwx_version,
        updated_at = excluded.updated_at
      WHERE names.delivered_event_time IS NULL
        OR excluded.delivered_event_time > names.delivered_event_time
        OR (excluded.delivered_event_time = names.delivered_event_time
          AND excluded.delivered_secret_id > names.delivered_secret_id);
  END
  $fn$;

  -- A claim in one statement (one round trip, its own transaction); the steps and why are told in
  -- postgres-leases.ts. Locks, FOR UPDATE SKIP LOCKED, the names of up to p_limit claimable secrets:
  -- when more is due than one claim takes, whole vaults first (at most p_whole_vaults of them, the
  -- longest-waiting first), then in due order whatever the vault; then leases the newest queued secret
  -- of each locked name that is still claimable, with a fresh snapshot. Rows in due order.
  CREATE FUNCTION relay_claim(
    p_owner TEXT, p_now BIGINT, p_lease_until BIGINT, p_limit INTEGER, p_whole_vaults INTEGER
  ) RETURNS TABLE (
    id BIGINT, source TEXT, event_id TEXT, vault TEXT, name TEXT, description TEXT, sealed BYTEA, ref TEXT,
    attempts INTEGER, event_time BIGINT, created_at BIGINT, solo INTEGER
  ) LANGUAGE plpgsql
  SET plan_cache_mode = force_custom_plan
  AS $fn$
  #variable_conflict use_column
  DECLARE
    v_due_vaults TEXT[];
    v_total INTEGER;
    v_vaults TEXT[] := '{}';
    v_names TEXT[] := '{}';
    v_more_vaults TEXT[];
    v_more_names TEXT[];
    v_whole INTEGER;
    v_vault TEXT;
  BEGIN
    SELECT array_agg(g.vault ORDER BY g.first_due, g.first_id), COALESCE(SUM(g.due), 0)
      INTO v_due_vaults, v_total
      FROM (SELECT d.vault, COUNT(*) AS due, MIN(d.next_attempt_at) AS first_due, MIN(d.id) AS first_id
        FROM (SELECT s.vault, s.next_attempt_at, s.id FROM secrets s
          WHERE s.status = 'queued' AND s.next_attempt_at <= p_now
            AND (s.lease_until IS NULL OR s.lease_until <= p_now)
          ORDER BY s.next_attempt_at, s.id LIMIT p_limit) d
        GROUP BY d.vault) g;
    IF v_total = 0 THEN
      RETURN;
    END IF;
    -- Passes 1..v_whole lock whole due vaults, one each; the last pass (v_vault NULL) any vault.
    v_whole := CASE WHEN v_total = p_limit THEN LEAST(cardinality(v_due_vaults), p_whole_vaults) ELSE 0 END;
    FOR i IN 1 .. v_whole + 1
    LOOP
      EXIT WHEN cardinality(v_vaults) >= p_limit;
      v_vault := CASE WHEN i <= v_whole THEN v_due_vaults[i] END;
      WITH l AS (
        SELECT n.vault, n.name FROM secrets s JOIN names n ON n.vault = s.vault AND n.name = s.name
        WHERE (v_vault IS NULL OR s.vault = v_vault) AND s.status = 'queued' AND s.next_attempt_at <= p_now
          AND (s.lease_until IS NULL OR s.lease_until <= p_now)
          AND NOT EXISTS (SELECT 1 FROM secrets o WHERE o.vault = s.vault AND o.name = s.name
            AND o.id <> s.id AND o.lease_owner IS NOT NULL AND o.lease_until > p_now)
          AND (s.vault, s.name) NOT IN (SELECT * FROM unnest(v_vaults, v_names))
        ORDER BY s.next_attempt_at, s.id LIMIT p_limit - cardinality(v_vaults)
        FOR UPDATE OF n SKIP LOCKED
      )
      SELECT array_agg(l.vault), array_agg(l.name) INTO v_more_vaults, v_more_names FROM l;
      v_vaults := v_vaults || COALESCE(v_more_vaults, '{}');
      v_names := v_names || COALESCE(v_more_names, '{}');
    END LOOP;
    IF cardinality(v_vaults) = 0 THEN
      RETURN;
    END IF;
    RETURN QUERY
      WITH pick AS (
        SELECT DISTINCT ON (s.vault, s.name) s.id FROM secrets s
        WHERE (s.vault, s.name) IN (SELECT * FROM unnest(v_vaults, v_names))
          AND s.status = 'queued' AND s.next_attempt_at <= p_now
          AND (s.lease_until IS NULL OR s.lease_until <= p_now)
          AND NOT EXISTS (SELECT 1 FROM secrets o WHERE o.vault = s.vault AND o.name = s.name
            AND o.id <> s.id AND o.lease_owner IS NOT NULL AND o.lease_until > p_now)
          AND NOT EXISTS (SELECT 1 FROM secrets n WHERE n.vault = s.vault AND n.name = s.name
            AND n.status = 'queued'
            AND (n.event_time > s.event_time OR (n.event_time = s.event_time AND n.id > s.id)))
        ORDER BY s.vault, s.name, s.event_time DESC, s.id DESC
      ), leased AS (
        UPDATE secrets s SET lease_owner = p_owner, lease_until = p_lease_until
        FROM pick, events e WHERE s.id = pick.id AND e.id = s.event
        RETURNING s.id, e.source, e.event_id, s.vault, s.name, s.description, s.sealed, s.ref, s.attempts,
          s.event_time, s.created_at, s.solo::int AS solo, s.next_attempt_at
      )
      SELECT l.id, l.source, l.event_id, l.vault::text, l.name::text, l.description, l.sealed, l.ref,
        l.attempts, l.event_time, l.created_at, l.solo
      FROM leased l ORDER BY l.next_attempt_at, l.id LIMIT p_limit;
  END
  $fn$;

  -- Fewer indexes to write on every rewrite of a secret's row: a lease owner's secrets are found through
  -- secrets_leased (partial on the same predicate), so the index on the owner alone goes.
  DROP INDEX secrets_owner;
`,
}
