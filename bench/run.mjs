// npm run bench: ingest ceiling vs relay at 50 connections, then delivery of 10,000 queued secrets, each relay
// run on SQLite and on PostgreSQL; tables with a column per store, and JSON.

import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, relative } from 'node:path'
import { configSchema, startFakeRwx } from '#tools/bench-entry.js'
import { judge } from './judge.mjs'
import { fsyncLatency, startChild, withTimeout } from './lib.mjs'
import { benchCeiling, benchDelivery, benchFelt, benchRelay } from './parts.mjs'
import { startPostgres } from './postgres.mjs'
import { cleanUpAtExit, cleanup, dir, state } from './relay.mjs'
import { fmt, report } from './report.mjs'
import {
  BASELINE,
  isStandardRun,
  LOAD_CPU,
  measured,
  RESULTS,
  SERVER_CPU,
  STORE_NAMES,
  settings,
  TOKEN,
} from './settings.mjs'

cleanUpAtExit()

/** Formats the JSON the way biome would (the committed baseline must pass `biome check`). */
function biomeFormat(files) {
  const biome = new URL('../node_modules/.bin/biome', import.meta.url).pathname
  const proc = startChild(biome, ['format', '--write', ...files])
  return withTimeout(proc.exited, 30_000, 'biome format').catch(() => {})
}

/** Runs the parts BENCH_ONLY names on each store, then prints the report and writes the JSON. */
async function main() {
  const started = performance.now()
  if (settings.pin)
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' })
  const fsync = fsyncLatency(dir)
  state.fake = await startFakeRwx({ token: TOKEN })
  const ingest = settings.only.includes('ingest')
  const deliver = settings.only.includes('delivery')
  let ceiling
  let postgresInfo
  const relay = ingest ? {} : undefined
  const alone = ingest ? {} : undefined
  const delivery = deliver ? {} : undefined
  const feltParts = ['latency', 'burst', 'outage', 'idle'].some((p) => settings.only.includes(p))
  const felt = feltParts ? {} : undefined
  if (ingest) {
    process.stderr.write('bench: ceiling (bare Fastify + HMAC)...\n')
    ceiling = await benchCeiling()
  }
  // One store after the other: PostgreSQL runs only during its own runs, so it disturbs no other.
  for (const store of settings.stores) {
    if (store === 'postgres') {
      process.stderr.write('bench: starting PostgreSQL...\n')
      const postgres = await startPostgres({ cpus: SERVER_CPU, flags: settings.pgFlags })
      state.postgres = postgres
      postgresInfo = {
        version: await postgres.version(),
        embedded: postgres.embedded,
        pinned: postgres.embedded && settings.pin ? SERVER_CPU : null,
        flags: settings.pgFlags,
        poolSize: configSchema.parse({}).postgres.poolSize,
      }
    }
    if (ingest) {
      process.stderr.write(`bench: relay ingest (vault-relay serve, ${STORE_NAMES[store]})...\n`)
      relay[store] = await benchRelay(store, settings.rwx)
      if (settings.alone.includes(store)) {
        process.stderr.write(`bench: relay ingest alone, RWX silent (${STORE_NAMES[store]})...\n`)
        alone[store] = await benchRelay(store, 'silent')
      }
    }
    if (deliver) {
      process.stderr.write(
        `bench: delivery of ${fmt(settings.deliverySecrets)} queued secrets (${STORE_NAMES[store]})...\n`,
      )
      delivery[store] = await benchDelivery(store)
    }
    if (feltParts) felt[store] = await benchFelt(store)
  }
  await state.fake.close()
  await state.postgres?.close()
  state.postgres = undefined

  const ratios = (runs) =>
    runs
      ? Object.fromEntries(measured(runs).map((s) => [s, runs[s].reqPerSec / ceiling.reqPerSec]))
      : undefined
  const ratio = ratios(relay)
  const ratioAlone = ratios(alone)
  const out = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      fsync4KiB: fsync,
    },
    settings,
    postgres: postgresInfo,
    ceiling,
    relay,
    ratio,
    alone,
    ratioAlone,
    delivery,
    felt,
    targets: judge(ceiling, relay, alone, delivery, felt),
    totalSeconds: (performance.now() - started) / 1000,
  }
  process.stdout.write(`\n${report(out)}\n\nbench took ${fmt(out.totalSeconds)} s\n`)
  // Three decimals are plenty and keep the committed baseline readable in a diff.
  const json = `${JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`
  mkdirSync(RESULTS, { recursive: true })
  const latest = join(RESULTS, 'latest.json')
  writeFileSync(latest, json)
  const files = [latest]
  // Only a full run (both parts, both stores, the default load) replaces the committed baseline.
  if (isStandardRun(out)) {
    writeFileSync(BASELINE, json)
    files.push(BASELINE)
  }
  await biomeFormat(files)
  process.stdout.write(`wrote ${files.map((f) => relative(process.cwd(), f)).join(' and ')}\n`)
}

try {
  await withTimeout(main(), 900_000, 'the whole benchmark')
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
} finally {
  await state.fake?.close().catch(() => {})
  await withTimeout(state.postgres?.close() ?? Promise.resolve(), 20_000, 'stopping PostgreSQL').catch(
    () => {},
  )
  cleanup()
}
// A failed run can leave timers or sockets behind: the bench is over either way.
process.exit()
