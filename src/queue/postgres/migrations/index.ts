// The PostgreSQL queue's schema versions: the one ordered list of them, which the migrator applies in turn.
import { inOrder, type Migration } from '../../migration.js'
import { migration as v1 } from './0001-tables.js'
import { migration as v2 } from './0002-vault-due-index.js'
import { migration as v3 } from './0003-never-regress-functions.js'
import { migration as v4 } from './0004-batched-writes.js'
import { migration as v5 } from './0005-operations.js'
import { migration as v6 } from './0006-name-leases.js'
import { migration as v7 } from './0007-fences.js'
import { migration as v8 } from './0008-sending-marks.js'
import { migration as v9 } from './0009-reconcile.js'
import { migration as v10 } from './0010-notifications.js'
import { migration as v11 } from './0011-audit.js'
import { migration as v12 } from './0012-enqueue-plans.js'

/**
 * Every schema version, in order; version N is the Nth. Append a new one (a new file, `released: false`
 * until it ships), never edit or reorder a released one: databases in the field have already run it.
 */
export const MIGRATIONS: readonly Migration[] = inOrder([v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12])
