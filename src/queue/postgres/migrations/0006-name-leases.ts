// Migration 6 of the PostgreSQL queue: the in-flight mark of a name lives on its `names` row (the row every
// writer of the name locks), so leasing a secret writes that small row and not the secret's indexed one.
import type { Migration } from '../../migration.js'

/** Schema version 6, released: frozen, never edit it (see ../../migration.ts); append a version instead. */
export const migration: Migration = {
  version: 6,
  name: 'name-leases',
  released: true,
  sql: `
  -- A name's lease: which secret of it is being sent (lease_secret), by whom, until when. One row per
  -- vault and name, so one lease per name at most, by construction. None of these columns is indexed:
  -- leasing and giving back rewrite the row as a HOT update (no index entry written). lease_secret has
  -- no foreign key: a purge may delete a finished secret whose expired lease is still marked here.
  ALTER TABLE names ADD COLUMN lease_secret BIGINT, ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until BIGINT,
    ADD CONSTRAINT names_lease CHECK (
      (lease_secret IS NULL) = (lease_owner IS NULL) AND (lease_owner IS NULL) = (lease_until IS NULL));

  -- Leases taken by the previous schema move to their name: the longest-lasting of each name (at most
  -- one of them is live). Its owner settles it through relay_settle below, which finds it here.
  UPDATE names n SET lease_secret = l.id, lease_owner = l.lease_owner, lease_until = l.lease_until
    FROM (SELECT DISTINCT ON (s.vault, s.name) s.id, s.vault, s.name, s.lease_owner, s.lease_until
      FROM secrets s WHERE s.lease_owner IS NOT NULL
      ORDER BY s.vault, s.name, s.lease_until DESC, s.id DESC) l
    WHERE n.vault = l.vault AND n.name = l.name;
  -- secrets.lease_owner and lease_until stay, always NULL from now on: a relay of the previous version
  -- still running during a rolling update reads them (and finds no lease there); its claims and settles
  -- are the functions below.
  UPDATE secrets SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL;
  DROP INDEX secrets_leased;

  -- A claim in one statement, as in migration 4 (the steps and why: postgres-leases.ts), with the lease
  -- on the name: a name is claimable when its row holds no live lease. Locks, FOR UPDATE SKIP LOCKED, the
  -- names of up to p_limit due secrets (whole vaults first when more is due than one claim takes), then,
  -- with a fresh snapshot, leases each locked name still claimable for its newest queued secret. The
  -- secrets' rows are not written. Rows in due order.
  CREATE OR REPLACE FUNCTION relay_claim(
    p_owner TEXT, p_now BIGINT, p_lease_until BIGINT, p_limit INTEGER, p_whole_vaults INTEGER
  ) RETURNS TABLE (
    id BIGINT, source TEXT, event_id TEXT, vault TEXT, name TEXT, description TEXT, sealed BYTEA, ref TEXT,
    attempts INTEGER, event_time BIGINT, created_at BIGINT, solo INTEGER
  ) LANGUAGE plpgsql
  SET plan_cache_mode = force_custom_plan
  -- Every statement here reads a bounded number of rows through an index (a due index walked in order up
  -- to the limit, names by primary key). Without these, a new database (no statistics: 'queued' looks
  -- rare) or the misjudged two-column join with names gets whole-table plans: every due secret joined
  -- and sorted, every name scanned, at each claim. Before PostgreSQL 18, a plan left with a forbidden
  -- step (where nothing else can do it) costs 10^10 more, far past jit_above_cost: JIT (tens of ms, never
  -- worth it for a few hundred rows) is off here too.
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off
  SET jit = off
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
        FROM (SELECT s.vault, s.next_attempt_at, s.id
          FROM secrets s JOIN names n ON n.vault = s.vault AND n.name = s.name
          WHERE s.status = 'queued' AND s.next_attempt_at <= p_now
            AND (n.lease_until IS NULL OR n.lease_until <= p_now)
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
      -- a row another claimer leased since this snapshot is checked again once locked (its new version)
      WITH l AS (
        SELECT n.vault, n.name FROM secrets s JOIN names n ON n.vault = s.vault AND n.name = s.name
        WHERE (v_vault IS NULL OR s.vault = v_vault) AND s.status = 'queued' AND s.next_attempt_at <= p_now
          AND (n.lease_until IS NULL OR n.lease_until <= p_now)
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
      -- each locked name's newest queued secret, if it is due. The names locked above hold no live lease
      -- (checked on each row's latest version as it was locked), and none can be taken while this
      -- transaction holds them: the lease is written without looking again.
      WITH pick AS (
        SELECT s.* FROM (SELECT DISTINCT * FROM unnest(v_vaults, v_names)) AS k(v, n)
          CROSS JOIN LATERAL (SELECT q.id, q.event, q.vault, q.name, q.description, q.sealed, q.ref,
              q.attempts, q.event_time, q.created_at, q.solo, q.next_attempt_at
            FROM secrets q WHERE q.vault = k.v AND q.name = k.n AND q.status = 'queued'
            ORDER BY q.event_time DESC, q.id DESC LIMIT 1) s
        WHERE s.next_attempt_at <= p_now
      ), leased AS (
        UPDATE names n SET lease_secret = p.id, lease_owner = p_owner, lease_until = p_lease_until
        FROM pick p WHERE n.vault = p.vault AND n.name = p.name
      )
      SELECT p.id, e.source, e.event_id, p.vault::text, p.name::text, p.description, p.sealed, p.ref,
        p.attempts, p.event_time, p.created_at, p.solo::int
      FROM pick p JOIN events e ON e.id = p.event
      ORDER BY p.next_attempt_at, p.id;
  END
  $fn$;

  -- Delivery outcomes and the round's attempts (provenance) in one statement, one transaction, as in
  -- migration 4 but with the lease on the name: an outcome counts when its name's lease is still
  -- p_owner's for that secret (anything else is ignored: another worker took the lease since). Those
  -- names are locked first, in the order every writer keeps; then each secret's row is rewritten once
  -- with its outcome, and each name's row once: lease given back, and the watermark moved when the
  -- delivered value is newer than the one it holds. Delivered while superseded (in flight) stays
  -- superseded, but RWX did get it: that is recorded. A retry, dead or superseded outcome changes only a
  -- secret still queued (an admin discard or a newer value may have finished it). Attempt i (p_attempt_*)
  -- is recorded for any secret still there, in order; a relay of the previous version sends none.
  DROP FUNCTION relay_settle(TEXT, BIGINT, BIGINT[], TEXT[], BIGINT[], TEXT[], BIGINT[], TEXT[], INTEGER[],
    BOOLEAN[]);
  CREATE FUNCTION relay_settle(
    p_owner TEXT, p_now BIGINT, p_ids BIGINT[], p_kinds TEXT[], p_versions BIGINT[], p_fingerprints TEXT[],
    p_at BIGINT[], p_errors TEXT[], p_counts INTEGER[], p_solos BOOLEAN[],
    p_attempt_secrets BIGINT[] DEFAULT NULL, p_attempt_at BIGINT[] DEFAULT NULL,
    p_attempt_outcomes TEXT[] DEFAULT NULL, p_attempt_statuses TEXT[] DEFAULT NULL,
    p_attempt_versions BIGINT[] DEFAULT NULL, p_attempt_errors TEXT[] DEFAULT NULL
  ) RETURNS VOID LANGUAGE plpgsql
  SET plan_cache_mode = force_custom_plan
  -- as relay_claim: secrets by id, names by primary key, never a scan of either table
  SET enable_seqscan = off SET enable_bitmapscan = off SET enable_hashjoin = off SET enable_mergejoin = off
  SET jit = off
  AS $fn$
  BEGIN
    -- the secrets first (by id), then their names (by key), never names scanned for the owner: OFFSET 0
    -- keeps the planner from turning the join around
    PERFORM 1 FROM (SELECT s.id, s.vault, s.name FROM secrets s WHERE s.id = ANY(p_ids) OFFSET 0) o
        JOIN names n ON n.vault = o.vault AND n.name = o.name
      WHERE n.lease_secret = o.id AND n.lease_owner = p_owner
      ORDER BY n.vault, n.name FOR UPDATE OF n;
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
