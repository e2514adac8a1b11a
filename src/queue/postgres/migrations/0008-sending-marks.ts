// Migration 8 of the PostgreSQL queue: short leases. A worker marks the names it is sending (before the
// request goes out) and renews its leases while it works; a claim fences an expired lease it finds marked.
import type { Migration } from '../../migration.js'

/** Schema version 8, not yet released: it may still change until it ships (see ../../migration.ts). */
export const migration: Migration = {
  version: 8,
  name: 'sending-marks',
  released: false,
  sql: `
  -- When the lease's owner started sending the leased secret (set just before its request goes out, in
  -- one statement a request: postgres/leases.ts renew). It counts only under a worker's live or expired
  -- lease: every claim clears it as it leases the name, and a lease given back or turned into a fence
  -- leaves it unread. Not indexed: marking and leasing stay HOT updates.
  ALTER TABLE names ADD COLUMN sending_since BIGINT;

  -- The claim of migration 6 (the steps and why: postgres/leases.ts), with one more step: an expired
  -- lease is taken over at once unless its name was being sent; then the name is fenced for
  -- p_uncertain_ms (delivery.uncertainWriteSeconds) instead. The signature gains that argument with a
  -- default, so a relay of the previous version (which never marks, and whose leases last past its
  -- writes) keeps calling it with five.
  DROP FUNCTION relay_claim(TEXT, BIGINT, BIGINT, INTEGER, INTEGER);
  CREATE FUNCTION relay_claim(
    p_owner TEXT, p_now BIGINT, p_lease_until BIGINT, p_limit INTEGER, p_whole_vaults INTEGER,
    p_uncertain_ms BIGINT DEFAULT NULL
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
    v_sent_vaults TEXT[];
    v_sent_names TEXT[];
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
    -- A locked name whose expired lease was a worker's and marked sending: that worker died (or lost the
    -- database, and cancelled its request before its lease ran out) while its write was in flight, and
    -- the write may still land. The name is fenced instead of leased (see migration 7), as that worker's
    -- settle would have fenced it: until the write can no longer land, its next write read back. A
    -- caller that does not say how long that is (a relay of the previous version) leaves it for a caller
    -- that does.
    SELECT array_agg(k.v), array_agg(k.nm) INTO v_sent_vaults, v_sent_names
      FROM unnest(v_vaults, v_names) AS k(v, nm) JOIN names n ON n.vault = k.v AND n.name = k.nm
      WHERE n.sending_since IS NOT NULL AND n.lease_owner <> '(unknown outcome)';
    IF v_sent_vaults IS NOT NULL THEN
      IF p_uncertain_ms IS NOT NULL THEN
        UPDATE names n SET lease_owner = '(unknown outcome)', lease_until = p_now + p_uncertain_ms,
            sending_since = NULL, unconfirmed_since = COALESCE(n.unconfirmed_since, p_now)
          FROM (SELECT DISTINCT * FROM unnest(v_sent_vaults, v_sent_names)) AS k(v, nm)
          WHERE n.vault = k.v AND n.name = k.nm;
      END IF;
      SELECT COALESCE(array_agg(k.v), '{}'), COALESCE(array_agg(k.nm), '{}') INTO v_vaults, v_names
        FROM unnest(v_vaults, v_names) AS k(v, nm)
        WHERE (k.v, k.nm) NOT IN (SELECT * FROM unnest(v_sent_vaults, v_sent_names));
      IF cardinality(v_vaults) = 0 THEN
        RETURN;
      END IF;
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
        UPDATE names n SET lease_secret = p.id, lease_owner = p_owner, lease_until = p_lease_until,
          sending_since = NULL
        FROM pick p WHERE n.vault = p.vault AND n.name = p.name
      )
      SELECT p.id, e.source, e.event_id, p.vault::text, p.name::text, p.description, p.sealed, p.ref,
        p.attempts, p.event_time, p.created_at, p.solo::int
      FROM pick p JOIN events e ON e.id = p.event
      ORDER BY p.next_attempt_at, p.id;
  END
  $fn$;
`,
}
