// Shared helpers for the benchmark: child processes that are always cleaned up, /proc memory, payloads, stats.
import { execFileSync, spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'

/** Every child started through this module, so cleanup can end them whatever happened. */
const children = new Set()

/**
 * Starts a child process and tracks it. `cpus` (e.g. '1') pins it with taskset when given.
 * stdout and stderr are kept (last 64 KiB) for the error message if the child fails.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cpus?: string, env?: NodeJS.ProcessEnv, ipc?: boolean, cwd?: string }} [options]
 */
export function startChild(command, args, { cpus, env, ipc = false, cwd } = {}) {
  const [cmd, argv] = cpus ? ['taskset', ['-c', cpus, command, ...args]] : [command, args]
  const child = spawn(cmd, argv, {
    cwd,
    env: env ?? process.env,
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (d) => {
    output = (output + String(d)).slice(-65_536)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve(code ?? signal)
    })
    // Could not start at all (e.g. no such command): it counts as exited.
    child.on('error', (err) => {
      keep(`${err.message}\n`)
      children.delete(child)
      resolve(-1)
    })
  })
  children.add(child)
  return { child, exited, output: () => output }
}

/**
 * Starts a bench script (`bench/<name>.mjs`) under node with an IPC channel; `options` go as argv JSON.
 * @param {string} name
 * @param {unknown} options
 * @param {{ cpus?: string, nodeArgs?: string[] }} [spawnOptions]
 */
export function startScript(name, options, { cpus, nodeArgs = [] } = {}) {
  const script = new URL(`./${name}.mjs`, import.meta.url).pathname
  return startChild(process.execPath, [...nodeArgs, script, JSON.stringify(options)], { cpus, ipc: true })
}

/** The first IPC message of `type` from the child; rejects if it exits first or after `timeoutMs`. */
export function nextMessage(proc, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no '${type}' message within ${timeoutMs} ms; output:\n${proc.output()}`))
    }, timeoutMs)
    const onMessage = (msg) => {
      if (msg?.type === 'error') {
        done()
        reject(new Error(`child failed: ${msg.message}\n${proc.output()}`))
      } else if (msg?.type === type) {
        done()
        resolve(msg)
      }
    }
    const onExit = (code) => {
      done()
      reject(new Error(`child exited (${code}) before sending '${type}'; output:\n${proc.output()}`))
    }
    const done = () => {
      clearTimeout(timer)
      proc.child.off('message', onMessage)
      proc.child.off('exit', onExit)
    }
    proc.child.on('message', onMessage)
    proc.child.on('exit', onExit)
  })
}

/**
 * Ends a child: first waits up to `exitMs` for it to exit by itself (scripts exit after their answer,
 * and a profile is written on the way out), then SIGTERM, then SIGKILL after `graceMs`.
 */
export async function stopChild(proc, { exitMs = 0, graceMs = 5_000 } = {}) {
  const gone = () => proc.child.exitCode !== null || proc.child.signalCode !== null
  if (!gone() && exitMs > 0) await withTimeout(proc.exited, exitMs, 'exit').catch(() => {})
  if (gone()) return proc.exited
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs)
  try {
    return await proc.exited
  } finally {
    clearTimeout(timer)
  }
}

/** Whether `taskset` (util-linux) can pin processes to cores here. */
export function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Kills every child still running (used on failure and on signals). */
export function killAll() {
  for (const child of children) child.kill('SIGKILL')
}

/** A free loopback port (the relay reads its port from config, so the bench picks one). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address())
      srv.close(() => resolve(port))
    })
  })
}

/**
 * A loopback server that accepts connections and never answers: an RWX that hangs. The relay's worker
 * sends its first requests and waits on them, so nothing else it does competes with ingest. `close()`
 * drops every connection, and the waiting requests fail at once.
 */
export function startSilentServer() {
  return new Promise((resolve, reject) => {
    const sockets = new Set()
    const srv = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
      socket.resume()
    })
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (srv.address()).port}`,
        close() {
          for (const socket of sockets) socket.destroy()
          return new Promise((done) => srv.close(() => done()))
        },
      })
    })
  })
}

/** VmRSS and VmHWM (peak RSS) of a process in MiB, from /proc; undefined once it is gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; NaN once it is gone. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return Number.NaN
  }
}
/** USER_HZ: the unit of /proc CPU times, 100 on every Linux this runs on. */
const CLOCK_TICKS = 100

/** Machine-wide CPU seconds so far, from the `cpu` line of /proc/stat: busy (not idle, iowait or steal) and steal. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return { busy: (user + nice + system + irq + softirq) / CLOCK_TICKS, steal: steal / CLOCK_TICKS }
}

/**
 * Watches a process while it is under load: memory every `ms` (highest VmRSS seen, VmHWM at the end) and
 * the share of one core it used between start and stop (1.0 = one core busy the whole time).
 */
export function watchProcess(pid, ms = 200) {
  let maxRss = 0
  let last
  let cpuStart = cpuSecondsOf(pid)
  let wallStart = performance.now()
  const take = () => {
    const m = memoryOf(pid)
    if (m === undefined) return
    last = m
    maxRss = Math.max(maxRss, m.rssMiB)
  }
  take()
  const timer = setInterval(take, ms)
  return {
    /** Restarts the CPU measurement (after a warm-up). */
    mark() {
      cpuStart = cpuSecondsOf(pid)
      wallStart = performance.now()
    },
    stop() {
      clearInterval(timer)
      take()
      const cores = (cpuSecondsOf(pid) - cpuStart) / ((performance.now() - wallStart) / 1000)
      return {
        maxRssMiB: maxRss,
        peakRssMiB: last?.peakRssMiB ?? Number.NaN,
        endRssMiB: last?.rssMiB ?? Number.NaN,
        cpuCores: cores,
      }
    },
  }
}

/** What a bench event looks like: one rotated secret, a distinct name per request, across 20 vaults. */
export const VAULTS = 20
export const SIGNATURE_HEADER = 'x-bench-signature'
export const SIGNATURE_PREFIX = 'sha256='

/** The n-th body of run `run` and its signature header value. */
export function signedBody(secret, run, n) {
  const body = `{"type":"secret.rotated","vault":"bench-${n % VAULTS}","name":"K_${run}_${n}","value":"v-${run}-${n}-c0ffee"}`
  const sig = createHmac('sha256', secret).update(body).digest('hex')
  return { body, signature: `${SIGNATURE_PREFIX}${sig}` }
}

/** Latency of appending 4 KiB and fsyncing, `n` times, in `dir` (what one durable commit waits for at least). */
export function fsyncLatency(dir, n = 200) {
  const file = `${dir}/fsync-probe`
  const fd = openSync(file, 'w')
  const page = Buffer.alloc(4096, 1)
  const times = []
  try {
    for (let i = 0; i < n; i++) {
      const started = performance.now()
      writeSync(fd, page)
      fsyncSync(fd)
      times.push(performance.now() - started)
    }
  } finally {
    closeSync(fd)
    unlinkSync(file)
  }
  times.sort((a, b) => a - b)
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) }
}

/** The p-th percentile (0..100) of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

/** Awaits `promise` with a deadline; rejects with `what` if it is not done by then. */
export async function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
