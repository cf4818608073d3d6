#!/usr/bin/env node
// Load generator for the reference Automerge sync server
// (@automerge/automerge-repo-sync-server), with the same workload shape as the Rust
// load generator that drives ibasho-sync-server. See README.md in this folder.
//
// Everything runs on 127.0.0.1: the server is a child process started (and killed) by this
// script; N "devices" plus one "observer" are clients in this process (devices optionally
// spread over worker threads). Result: one JSON object on stdout. Progress: stderr.

import { spawn, execFileSync } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { randomBytes } from "node:crypto"
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads"
import { format } from "node:util"

import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import * as A from "@automerge/automerge"
import WebSocket from "ws"
import { encode as cborEncode, decode as cborDecode } from "cbor-x"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SELF = fileURLToPath(import.meta.url)

// ---------------------------------------------------------------- one clock for all threads
// process.hrtime is CLOCK_MONOTONIC, shared by the main thread and every worker thread;
// times are milliseconds since BASE (taken by the main thread, handed to the workers).
const BASE = isMainThread ? process.hrtime.bigint() : workerData.base
const now = () => Number(process.hrtime.bigint() - BASE) / 1e6

// ---------------------------------------------------------------- workload constants
const PLACES_DOCS = 16
const PLACES_PER_DOC = 20
const DEVICES_PER_TEAM = 10
const GRACE_MS = 5000 // wait for stragglers after the window
const CONVERGE_MS = 5000 // then, at most this long for every device to hold the observer's heads
const SETUP_TIMEOUT_MS = 180_000 // server start + seeding + all devices connected
const FIND_TIMEOUT_MS = 30_000
const CONNECT_BATCH = 10 // devices connected concurrently during setup (per thread)
const MARKER_PREFIX = "bench:"
const ELD_RESOLUTION_MS = 10
const CATEGORIES = ["子ども食堂", "喫茶ランドリー", "サロン", "居場所カフェ", "相談窓口"]

const THREAD = isMainThread ? "main" : `w${workerData.workerIndex}`
const log = (...args) => process.stderr.write(`[ref-load ${THREAD} ${(now() / 1000).toFixed(1)}s] ${args.join(" ")}\n`)
const sleep = ms => new Promise(r => setTimeout(r, ms))
const S = v => new A.ImmutableString(v) // scalar string, like ScalarValue::Str in Rust (not collaborative text)
const randId = () => randomBytes(8).toString("hex")
const headsKey = heads => [...heads].sort().join(",")
const round = (x, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(d)))
function strOf(v) {
  if (typeof v === "string") return v
  if (v && typeof v.val === "string") return v.val // A.ImmutableString
  return null
}
function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

let shuttingDown = false

// stdout carries only the result. automerge-repo reports some errors with console.log (e.g.
// "error receiving message" under overload): send all console output to stderr and count
// those reports, which are returned as client_library_errors.
let libraryErrors = 0
for (const k of ["log", "info", "warn", "error", "debug"]) {
  console[k] = (...args) => {
    const text = format(...args)
    if (/error|exception/i.test(text.slice(0, 200))) libraryErrors++
    process.stderr.write(`[${THREAD} console.${k}] ${text}\n`)
  }
}

// ---------------------------------------------------------------- automerge-repo clients
const repos = []
function newRepo(url, peerId) {
  const repo = new Repo({ network: [new WebSocketClientAdapter(url)], peerId })
  repos.push(repo)
  return repo
}
// Repo.shutdown() throws synchronously when called twice (adapter assert), so each repo is
// closed exactly once through here.
async function closeRepo(repo) {
  const i = repos.indexOf(repo)
  if (i < 0) return
  repos.splice(i, 1)
  try {
    await repo.shutdown()
  } catch {}
}

// ---------------------------------------------------------------- lean device
// A device that speaks automerge-repo's WebSocket protocol (v1: CBOR-encoded join / peer /
// request / sync / doc-unavailable messages) directly, with one Automerge document and one
// sync state per open document. It does what a Repo does on the wire, minus DocHandle state
// machines, patches, remote-heads bookkeeping and the 100 ms per-document sync throttle:
// every local change and every received sync message is answered at once.
const leanStats = { msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0 }
class LeanDevice {
  constructor(url, peerId) {
    this.url = url
    this.peerId = peerId
    this.serverId = null
    this.docs = new Map() // documentId -> { doc, sync, ready, resolve, reject }
    this.ws = null
    this.closed = false
  }
  connect(timeoutMs) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url)
      ws.binaryType = "nodebuffer"
      this.ws = ws
      const t = setTimeout(() => reject(new Error(`${this.peerId}: no peer message within ${timeoutMs} ms`)), timeoutMs)
      ws.on("open", () => {
        this.send({ type: "join", senderId: this.peerId, peerMetadata: { isEphemeral: true }, supportedProtocolVersions: ["1"] })
      })
      ws.on("error", e => {
        clearTimeout(t)
        reject(e)
      })
      ws.on("close", () => {
        if (!this.closed && !shuttingDown) log(`${this.peerId}: connection closed by server`)
      })
      ws.on("message", data => {
        leanStats.msgsIn++
        leanStats.bytesIn += data.length
        let m
        try {
          m = cborDecode(data)
        } catch {
          return
        }
        if (m.type === "peer") {
          this.serverId = m.senderId
          clearTimeout(t)
          resolve()
        } else if (m.type === "error") {
          log(`${this.peerId}: server error: ${m.message}`)
        } else if (m.type === "sync" || m.type === "request") {
          this.receive(m.documentId, m.data)
        } else if (m.type === "doc-unavailable") {
          const d = this.docs.get(m.documentId)
          if (d && !d.ready) d.reject(new Error(`${this.peerId}: document ${m.documentId} unavailable`))
        }
      })
    })
  }
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      const b = cborEncode(msg)
      leanStats.msgsOut++
      leanStats.bytesOut += b.length
      this.ws.send(b)
    }
  }
  pushSync(documentId, d) {
    const [sync, data] = A.generateSyncMessage(d.doc, d.sync)
    d.sync = sync
    if (data) this.send({ type: "sync", senderId: this.peerId, targetId: this.serverId, documentId, data })
  }
  receive(documentId, data) {
    const d = this.docs.get(documentId)
    if (!d) return
    const [doc, sync] = A.receiveSyncMessage(d.doc, d.sync, data)
    d.doc = doc
    d.sync = sync
    if (!d.ready && Array.isArray(sync.theirHeads) && A.hasHeads(doc, sync.theirHeads)) {
      d.ready = true
      d.resolve()
    }
    this.pushSync(documentId, d)
  }
  // Ask the server for each document (a "request" carrying our first sync message) and
  // resolve once we hold everything the server said it has.
  open(documentIds, timeoutMs) {
    return Promise.all(
      documentIds.map(
        documentId =>
          new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`${this.peerId}: ${documentId} not synced in ${timeoutMs} ms`)), timeoutMs)
            const d = {
              doc: A.init(),
              sync: A.initSyncState(),
              ready: false,
              resolve: () => (clearTimeout(t), resolve()),
              reject: e => (clearTimeout(t), reject(e)),
            }
            this.docs.set(documentId, d)
            const [sync, data] = A.generateSyncMessage(d.doc, d.sync)
            d.sync = sync
            this.send({ type: "request", senderId: this.peerId, targetId: this.serverId, documentId, data })
          }),
      ),
    )
  }
  change(documentId, fn) {
    const d = this.docs.get(documentId)
    d.doc = A.change(d.doc, fn)
    this.pushSync(documentId, d)
  }
  close() {
    this.closed = true
    try {
      this.ws?.close()
    } catch {}
  }
}

// ---------------------------------------------------------------- a set of devices (one thread)
// ctx: { url, client, rate, teams, placesUrls, visitsUrls, placesDocIds, visitsDocIds, placeIds }
async function hostDevices(ctx, indices) {
  const leanDevices = []
  async function makeDevice(j) {
    const team = j % ctx.teams
    // The places documents the device holds (indices into ctx.places*), and where its edits go.
    const held = ctx.docs === "own" ? [j % PLACES_DOCS] : [...Array(PLACES_DOCS).keys()]
    if (ctx.client === "repo") {
      const repo = newRepo(ctx.url, `bench-device-${j}`)
      const [visits, ...places] = await Promise.all(
        [ctx.visitsUrls[team], ...held.map(di => ctx.placesUrls[di])].map(u =>
          repo.find(u, { signal: AbortSignal.timeout(FIND_TIMEOUT_MS) }),
        ),
      )
      return {
        idx: j,
        team,
        held,
        changeVisits: fn => visits.change(fn),
        changePlaces: (di, fn) => places[held.indexOf(di)].change(fn),
        heads: () => [visits, ...places].map(h => headsKey(A.getHeads(h.doc()))),
      }
    }
    const dev = new LeanDevice(ctx.url, `bench-device-${j}`)
    leanDevices.push(dev)
    await dev.connect(FIND_TIMEOUT_MS)
    const ids = [ctx.visitsDocIds[team], ...held.map(di => ctx.placesDocIds[di])]
    await dev.open(ids, FIND_TIMEOUT_MS)
    return {
      idx: j,
      team,
      held,
      changeVisits: fn => dev.change(ctx.visitsDocIds[team], fn),
      changePlaces: (di, fn) => dev.change(ctx.placesDocIds[di], fn),
      heads: () => ids.map(id => headsKey(A.getHeads(dev.docs.get(id).doc))),
    }
  }
  const devices = []
  for (let i = 0; i < indices.length; i += CONNECT_BATCH) {
    devices.push(...(await Promise.all(indices.slice(i, i + CONNECT_BATCH).map(makeDevice))))
  }

  const sent = [] // [editId, sendTime]
  let skipped = 0
  let stopped = false
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  let leanStart = null

  function edit(dev, k) {
    const editId = `${dev.idx}-${k}`
    const sendT = now()
    const marker = `${MARKER_PREFIX}${editId}:${sendT.toFixed(3)}`
    if ((k + dev.idx) % 2 === 0) {
      // (a) a visit record in the team's visits doc
      const id = randId()
      dev.changeVisits(d => {
        d[id] = {
          id: S(id),
          at: S(new Date().toISOString()),
          kind: S("visit"),
          people: 1 + Math.floor(Math.random() * 5),
          marker: S(marker),
        }
      })
    } else {
      // (b) the description of a random place in a random places doc
      const di = dev.held[Math.floor(Math.random() * dev.held.length)]
      const pid = ctx.placeIds[di][Math.floor(Math.random() * PLACES_PER_DOC)]
      dev.changePlaces(di, d => {
        d[pid].description = S(marker)
      })
    }
    sent.push([editId, sendT])
  }

  // Steady rate R per device, evenly spaced, random phase. A slot more than one interval
  // late (thread overloaded) is dropped and counted, so the offered rate never bursts.
  function runDevice(dev, t0, tEnd, onDone) {
    const interval = 1000 / ctx.rate
    const phase = Math.random() * interval
    let slot = 0
    let k = 0
    const tick = () => {
      if (stopped) return onDone()
      const t = now()
      let at = t0 + phase + slot * interval
      while (t - at > interval) {
        if (at < tEnd) skipped++ // only slots inside the window count
        slot++
        at = t0 + phase + slot * interval
      }
      if (at >= tEnd) return onDone()
      if (at > t) return void setTimeout(tick, at - t)
      edit(dev, k++)
      slot++
      const next = t0 + phase + slot * interval
      if (next >= tEnd) return onDone()
      setTimeout(tick, Math.max(0, next - now()))
    }
    setTimeout(tick, Math.max(0, t0 + phase - now()))
  }

  return {
    count: devices.length,
    sentSoFar: () => sent.length,
    // runs the window; resolves at tEnd with what was sent
    async run(t0, tEnd) {
      await sleep(Math.max(0, t0 - now()))
      eld.enable()
      leanStart = { ...leanStats }
      let pending = devices.length
      const allDone = new Promise(r => {
        if (pending === 0) r()
        for (const dev of devices) runDevice(dev, t0, tEnd, () => --pending === 0 && r())
      })
      await Promise.race([allDone, sleep(Math.max(0, tEnd - now()) + 2000)])
      stopped = true
      eld.disable()
      const lean = Object.fromEntries(Object.entries(leanStats).map(([k, v]) => [k, v - leanStart[k]]))
      return {
        sent,
        skipped,
        // monitorEventLoopDelay's samples include its own timer period: subtract it
        eld: {
          p50: Math.max(0, eld.percentile(50) / 1e6 - ELD_RESOLUTION_MS),
          p99: Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS),
          max: Math.max(0, eld.max / 1e6 - ELD_RESOLUTION_MS),
        },
        lean,
        libraryErrors,
      }
    },
    heads: () => devices.map(d => ({ team: d.team, held: d.held, heads: d.heads() })),
    async close() {
      shuttingDown = true
      for (const d of leanDevices) d.close()
      await Promise.race([Promise.all([...repos].map(closeRepo)), sleep(5000)])
    },
  }
}

// ---------------------------------------------------------------- worker thread entry
if (!isMainThread) {
  process.on("unhandledRejection", e => {
    if (!shuttingDown) log("unhandled rejection:", e?.stack || e)
  })
  const { ctx, indices } = workerData
  let host = null
  parentPort.on("message", async m => {
    try {
      if (m.type === "start") {
        const progress = setInterval(() => parentPort.postMessage({ type: "progress", sent: host.sentSoFar() }), 1000)
        const r = await host.run(m.t0, m.tEnd)
        clearInterval(progress)
        parentPort.postMessage({ type: "done", ...r })
      } else if (m.type === "heads") {
        parentPort.postMessage({ type: "heads", list: host.heads() })
      } else if (m.type === "close") {
        await host.close()
        parentPort.postMessage({ type: "closed" })
        setTimeout(() => process.exit(0), 100)
      }
    } catch (e) {
      parentPort.postMessage({ type: "error", message: String(e?.stack || e) })
    }
  })
  hostDevices(ctx, indices).then(
    h => {
      host = h
      parentPort.postMessage({ type: "ready", count: h.count })
    },
    e => parentPort.postMessage({ type: "error", message: String(e?.stack || e) }),
  )
} else {
  mainThread()
}

// A host running in a worker thread, with the same interface as hostDevices()'s result.
function workerHost(ctx, indices, workerIndex) {
  const w = new Worker(SELF, { workerData: { ctx, indices, base: BASE, workerIndex } })
  const waiters = new Map() // type -> resolve
  let sentSoFar = 0
  let failed = null
  const wait = (type, ms) =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed)
      const t = setTimeout(() => reject(new Error(`worker ${workerIndex}: no ${type} within ${ms} ms`)), ms)
      waiters.set(type, v => (clearTimeout(t), resolve(v)))
      waiters.set("error:" + type, e => (clearTimeout(t), reject(e)))
    })
  const fail = e => {
    failed = e
    for (const [k, f] of waiters) if (k.startsWith("error:")) f(e)
    waiters.clear()
  }
  w.on("message", m => {
    if (m.type === "progress") sentSoFar = m.sent
    else if (m.type === "error") fail(new Error(`worker ${workerIndex}: ${m.message}`))
    else {
      const f = waiters.get(m.type)
      waiters.delete(m.type)
      waiters.delete("error:" + m.type)
      f?.(m)
    }
  })
  w.on("error", e => fail(e))
  w.on("exit", code => {
    if (!shuttingDown) fail(new Error(`worker ${workerIndex} exited (${code})`))
  })
  return {
    worker: w,
    ready: timeoutMs => wait("ready", timeoutMs),
    sentSoFar: () => sentSoFar,
    async run(t0, tEnd) {
      const p = wait("done", Math.max(0, tEnd - now()) + 10_000)
      w.postMessage({ type: "start", t0, tEnd })
      const m = await p
      sentSoFar = m.sent.length
      return m
    },
    async heads() {
      const p = wait("heads", 10_000)
      w.postMessage({ type: "heads" })
      return (await p).list
    },
    async close() {
      const p = wait("closed", 8000).catch(() => {})
      w.postMessage({ type: "close" })
      await p
      await Promise.race([new Promise(r => w.once("exit", r)), sleep(1000)])
      await w.terminate().catch(() => {})
    },
  }
}

// ================================================================ main thread
function mainThread() {
  // ------------------------------------------------------------ flags
  function usage(msg) {
    if (msg) process.stderr.write(`error: ${msg}\n`)
    process.stderr.write(
      "usage: node reference-load.mjs [--devices N] [--seconds D] [--rate R] [--port P]\n" +
        "                              [--client repo|lean] [--docs all|own] [--workers W] [--history H]\n" +
        "                              [--keep-data]\n" +
        "  --devices N   simulated devices (default 10; the benchmark uses 10, 50, 100)\n" +
        "  --seconds D   measurement window in seconds (default 20)\n" +
        "  --rate R      edits per second per device (default 2)\n" +
        "  --port P      server port on 127.0.0.1 (default: a free one)\n" +
        "  --client C    how devices are simulated (default repo):\n" +
        "                repo = one automerge-repo Repo + WebSocketClientAdapter per device;\n" +
        "                lean = the same wire protocol spoken directly (Automerge sync messages,\n" +
        "                CBOR over ws), without Repo's bookkeeping and 100 ms sync throttle\n" +
        "  --docs D      which documents a device holds (default all):\n" +
        "                all = every places document and its team's visits document;\n" +
        "                own = its team's visits document and one places document (device i\n" +
        "                holds places document i % 16, and its place edits go there)\n" +
        "  --workers W   run the devices in W worker threads (default 0: in the main thread,\n" +
        "                beside the observer)\n" +
        "  --history H   earlier changes in every document before the run, one change each\n" +
        "                (default 0; ~500 is a document of a city at the scale of DOMAIN.md)\n" +
        "  --keep-data   keep the server's temporary storage directory (path printed on stderr)\n",
    )
    process.exit(msg ? 2 : 0)
  }
  function parseArgs(argv) {
    const o = { devices: 10, seconds: 20, rate: 2, port: 0, keepData: false, client: "repo", docs: "all", workers: 0, history: 0 }
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]
      const num = () => {
        const v = Number(argv[++i])
        if (!Number.isFinite(v)) usage(`${a} needs a number`)
        return v
      }
      if (a === "--devices") o.devices = num()
      else if (a === "--seconds") o.seconds = num()
      else if (a === "--rate") o.rate = num()
      else if (a === "--port") o.port = num()
      else if (a === "--workers") o.workers = num()
      else if (a === "--history") o.history = num()
      else if (a === "--client") o.client = argv[++i]
      else if (a === "--docs") o.docs = argv[++i]
      else if (a === "--keep-data") o.keepData = true
      else if (a === "-h" || a === "--help") usage()
      else usage(`unknown argument ${a}`)
    }
    if (!Number.isInteger(o.devices) || o.devices < 1 || o.devices > 1000) usage("--devices must be an integer in 1..1000")
    if (!(o.seconds > 0 && o.seconds <= 600)) usage("--seconds must be in (0, 600]")
    if (!(o.rate > 0 && o.rate <= 100)) usage("--rate must be in (0, 100]")
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage("--port must be 0..65535")
    if (o.client !== "repo" && o.client !== "lean") usage("--client must be repo or lean")
    if (o.docs !== "all" && o.docs !== "own") usage("--docs must be all or own")
    if (!Number.isInteger(o.workers) || o.workers < 0 || o.workers > 16) usage("--workers must be 0..16")
    if (!Number.isInteger(o.history) || o.history < 0 || o.history > 100000) usage("--history must be 0..100000")
    return o
  }
  const opts = parseArgs(process.argv.slice(2))
  const teams = Math.ceil(opts.devices / DEVICES_PER_TEAM)

  // ------------------------------------------------------------ cleanup, whatever happens
  let serverChild = null
  let serverExited = false
  let tmpDir = null
  const killServerSync = () => {
    if (serverChild && !serverExited) {
      try {
        serverChild.kill("SIGKILL")
      } catch {}
    }
  }
  const removeTmpSync = () => {
    if (tmpDir && !opts.keepData) {
      try {
        fs.rmSync(tmpDir, { recursive: true, force: true })
      } catch {}
    }
  }
  process.on("exit", () => {
    killServerSync()
    removeTmpSync()
  })
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      log(`got ${sig}, stopping`)
      killServerSync()
      process.exit(130)
    })
  }
  process.on("unhandledRejection", e => {
    if (!shuttingDown) log("unhandled rejection:", e?.stack || e)
  })
  process.on("uncaughtException", e => {
    log("uncaught exception:", e?.stack || e)
    killServerSync()
    process.exit(3)
  })
  // Hard stop: this process ends (and kills the server) in bounded time.
  const HARD_LIMIT_MS = SETUP_TIMEOUT_MS + opts.seconds * 1000 + GRACE_MS + CONVERGE_MS + 30_000
  setTimeout(() => {
    log(`hard time limit of ${HARD_LIMIT_MS} ms reached, aborting`)
    killServerSync()
    process.exit(4)
  }, HARD_LIMIT_MS)

  // ------------------------------------------------------------ /proc sampling
  const CLK_TCK = (() => {
    try {
      return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
    } catch {
      return 100
    }
  })()
  function readCpuSeconds(pid) {
    // /proc/PID/stat: the fields after the ")" closing comm; utime=14, stime=15 (1-based)
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ")
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK
  }
  // whole machine, from /proc/stat's "cpu" line: [busy seconds, all seconds] over all cores
  function readHostCpu() {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0) // user..steal (guest is inside user)
    const idle = f[3] + f[4] // idle + iowait
    return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK }
  }
  function readStatusKb(pid, field) {
    const s = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const m = s.match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m"))
    return m ? Number(m[1]) : NaN
  }
  const sampler = {
    maxRssKb: 0,
    samples: 0,
    timer: null,
    pid: 0,
    sample() {
      try {
        readCpuSeconds(this.pid)
        const rss = readStatusKb(this.pid, "VmRSS")
        if (rss > this.maxRssKb) this.maxRssKb = rss
        this.samples++
      } catch {}
    },
    start(pid) {
      this.pid = pid
      this.timer = setInterval(() => this.sample(), 200)
    },
    stop() {
      clearInterval(this.timer)
    },
  }

  // ------------------------------------------------------------ server
  function pkgVersion(rel) {
    try {
      return JSON.parse(fs.readFileSync(path.join(HERE, "node_modules", rel, "package.json"), "utf8")).version
    } catch {
      return "unknown"
    }
  }
  const freePort = () =>
    new Promise((resolve, reject) => {
      const srv = net.createServer()
      srv.on("error", reject)
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address()
        srv.close(() => resolve(port))
      })
    })
  async function startServer(port) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "ibasho-ref-sync-"))
    const dataDir = path.join(tmpDir, "data")
    const child = spawn(process.execPath, [path.join(HERE, "reference-server.mjs")], {
      cwd: tmpDir,
      env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    serverChild = child
    child.on("exit", (code, sig) => {
      serverExited = true
      if (!shuttingDown) log(`server exited early (code ${code}, signal ${sig})`)
    })
    child.stderr.on("data", d => process.stderr.write(`[server] ${d}`))
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("server did not report listening within 20 s")), 20_000)
      let buf = ""
      child.stdout.on("data", d => {
        buf += d
        if (buf.includes("Listening on port")) {
          clearTimeout(t)
          resolve()
        }
      })
      child.on("exit", () => {
        clearTimeout(t)
        reject(new Error("server exited before listening"))
      })
    })
    child.stdout.resume()
    return { child, dataDir }
  }
  async function stopServer() {
    if (!serverChild || serverExited) return
    const exited = new Promise(r => serverChild.once("exit", r))
    serverChild.kill("SIGTERM")
    if (!(await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]))) {
      serverChild.kill("SIGKILL")
      await Promise.race([exited, sleep(2000)])
    }
  }
  function dirStats(dir) {
    let files = 0
    let bytes = 0
    const walk = d => {
      let ents = []
      try {
        ents = fs.readdirSync(d, { withFileTypes: true })
      } catch {}
      for (const e of ents) {
        const p = path.join(d, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.isFile()) {
          files++
          try {
            bytes += fs.statSync(p).size
          } catch {}
        }
      }
    }
    walk(dir)
    return { files, bytes }
  }

  // ------------------------------------------------------------ the run
  async function main() {
    const setupDeadline = now() + SETUP_TIMEOUT_MS
    const serverVersion = pkgVersion("@automerge/automerge-repo-sync-server")
    const serverRepoVersion = pkgVersion("@automerge/automerge-repo-sync-server/node_modules/@automerge/automerge-repo")
    const port = opts.port || (await freePort())
    const url = `ws://127.0.0.1:${port}`
    log(
      `client=${opts.client} workers=${opts.workers} devices=${opts.devices} teams=${teams} seconds=${opts.seconds} rate=${opts.rate}/s/device port=${port}`,
    )
    const { child, dataDir } = await startServer(port)
    log(`server ${serverVersion} (automerge-repo ${serverRepoVersion}) pid ${child.pid} listening; storage ${dataDir}`)
    sampler.start(child.pid)

    // ---- seeding (before the clock starts)
    const seeder = newRepo(url, "bench-seeder")
    const placesHandles = []
    const placeIds = []
    for (let d = 0; d < PLACES_DOCS; d++) {
      const init = {}
      const ids = []
      for (let p = 0; p < PLACES_PER_DOC; p++) {
        const id = randId()
        ids.push(id)
        init[id] = {
          name: S(`居場所 ${d}-${p}`),
          category: S(CATEGORIES[(d + p) % CATEGORIES.length]),
          lat: 35.45 + Math.random() * 0.1,
          lon: 139.35 + Math.random() * 0.1,
          description: S(`seed description ${d}-${p}`),
        }
      }
      placesHandles.push(seeder.create(init))
      placeIds.push(ids)
    }
    const visitsHandles = []
    for (let t = 0; t < teams; t++) visitsHandles.push(seeder.create({}))
    // History: opts.history earlier changes in every document, one change each (as ours does).
    for (let k = 0; k < opts.history; k++) {
      placesHandles.forEach((h, d) => {
        h.change(doc => {
          doc[placeIds[d][k % PLACES_PER_DOC]].description = S(`history ${k}`)
        })
      })
      visitsHandles.forEach(h => {
        const id = randId()
        h.change(doc => {
          doc[id] = { id: S(id), at: S(new Date().toISOString()), kind: S("visit"), people: 1 + (k % 5), marker: S(`history ${k}`) }
        })
      })
    }
    const seededHeads = [...placesHandles, ...visitsHandles].map(h => A.getHeads(h.doc()).slice().sort().join(","))
    const ctx = {
      url,
      client: opts.client,
      docs: opts.docs,
      rate: opts.rate,
      teams,
      placesUrls: placesHandles.map(h => h.url),
      visitsUrls: visitsHandles.map(h => h.url),
      placesDocIds: placesHandles.map(h => h.documentId),
      visitsDocIds: visitsHandles.map(h => h.documentId),
      placeIds,
    }
    const allUrls = [...ctx.placesUrls, ...ctx.visitsUrls]
    log(`seeded ${PLACES_DOCS} places docs x ${PLACES_PER_DOC} places and ${teams} visits docs`)

    // ---- observer: opens every document. Each attempt is a fresh Repo (a document found
    // "unavailable" stays so within one Repo) until the server serves every seeded doc.
    let observerHandles = null
    for (let attempt = 1; ; attempt++) {
      await sleep(attempt === 1 ? 300 : 500)
      const r = newRepo(url, `bench-observer-${attempt}`)
      try {
        const hs = await Promise.all(allUrls.map(u => r.find(u, { signal: AbortSignal.timeout(5000) })))
        if (!hs.slice(0, PLACES_DOCS).every(h => Object.keys(h.doc()).length === PLACES_PER_DOC)) {
          throw new Error("places docs incomplete")
        }
        if (!hs.every((h, i) => A.getHeads(h.doc()).slice().sort().join(",") === seededHeads[i])) {
          throw new Error("the server does not have every seeded change yet")
        }
        observerHandles = hs
        break
      } catch (e) {
        log(`observer attempt ${attempt}: ${e.message}`)
        await closeRepo(r)
        if (now() > setupDeadline) throw new Error("the server never served the seeded documents")
      }
    }
    await closeRepo(seeder) // the seeder takes no further part
    log(`observer has all ${allUrls.length} documents; seeder disconnected`)

    const observed = new Map() // editId -> { recv, lat }
    let observerPatches = 0
    function noteMarker(s, t) {
      if (!s || !s.startsWith(MARKER_PREFIX)) return
      const [, editId, ts] = s.split(":")
      if (!observed.has(editId)) observed.set(editId, { recv: t, lat: t - Number(ts) })
    }
    for (const h of observerHandles) {
      h.on("change", ({ doc, patches }) => {
        const t = now()
        for (const p of patches) {
          observerPatches++
          if (p.action !== "put") continue
          const key = p.path[p.path.length - 1]
          if (key === "marker") noteMarker(strOf(p.value), t)
          else if (key === "description" && p.path.length === 2) {
            noteMarker(strOf(p.value), t)
            // concurrent writes to one description: the losing values are conflicts
            try {
              const conflicts = A.getConflicts(doc[p.path[0]], "description")
              if (conflicts) for (const v of Object.values(conflicts)) noteMarker(strOf(v), t)
            } catch {}
          }
        }
      })
    }

    // ---- devices
    const all = Array.from({ length: opts.devices }, (_, i) => i)
    let hosts
    if (opts.workers === 0) {
      hosts = [await hostDevices(ctx, all)]
    } else {
      const nw = Math.min(opts.workers, opts.devices)
      hosts = Array.from({ length: nw }, (_, w) => workerHost(ctx, all.filter(i => i % nw === w), w))
      await Promise.all(hosts.map(h => h.ready(Math.max(1000, setupDeadline - now()))))
    }
    log(`${opts.devices} devices connected (${hosts.length} thread(s)), each with ${opts.docs === "own" ? 2 : 1 + PLACES_DOCS} docs`)
    await sleep(500) // let the initial sync traffic settle

    // ---- measurement window
    const t0 = now() + 100
    const tEnd = t0 + opts.seconds * 1000
    const mainEld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
    const runs = hosts.map(h => h.run(t0, tEnd))
    await sleep(Math.max(0, t0 - now()))
    const cpuStart = readCpuSeconds(child.pid)
    const rssStartKb = readStatusKb(child.pid, "VmRSS")
    const clientCpuStart = process.cpuUsage()
    const hostStart = readHostCpu()
    mainEld.enable()
    log(`window started (${opts.seconds} s)`)
    const progress = setInterval(() => {
      const s = hosts.reduce((a, h) => a + h.sentSoFar(), 0)
      log(`sent ${s} observed ${observed.size} server rss ${(sampler.maxRssKb / 1024).toFixed(1)} MB`)
    }, 5000)
    await sleep(Math.max(0, tEnd - now()))
    const cpuEnd = readCpuSeconds(child.pid)
    const tCpuEnd = now()
    const clientCpu = process.cpuUsage(clientCpuStart)
    const hostEnd = readHostCpu()
    mainEld.disable()
    clearInterval(progress)
    const results = await Promise.all(runs)
    const sent = new Map()
    for (const r of results) for (const [id, t] of r.sent) sent.set(id, t)
    const skipped = results.reduce((a, r) => a + r.skipped, 0)
    log(`window over: sent ${sent.size}, observed ${observed.size}; waiting up to ${GRACE_MS / 1000} s for stragglers`)

    const graceEnd = now() + GRACE_MS
    const seen = () => [...sent.keys()].filter(id => observed.has(id)).length
    while (seen() < sent.size && now() < graceEnd) await sleep(50)
    const graceUsedMs = GRACE_MS - Math.max(0, graceEnd - now())

    // ---- fan-out check: every device should hold the observer's heads for the docs it holds
    let converged = 0
    const convergeEnd = now() + CONVERGE_MS
    for (;;) {
      const byUrl = new Map(observerHandles.map(h => [h.url, headsKey(A.getHeads(h.doc()))]))
      const want = (team, held) => [ctx.visitsUrls[team], ...held.map(di => ctx.placesUrls[di])].map(u => byUrl.get(u))
      const lists = (await Promise.all(hosts.map(h => h.heads()))).flat()
      converged = lists.filter(({ team, held, heads }) => {
        const w = want(team, held)
        return heads.every((h, i) => h === w[i])
      }).length
      if (converged === opts.devices || now() > convergeEnd) break
      await sleep(100)
    }
    log(`${converged}/${opts.devices} devices hold the observer's heads for all their documents`)

    // ---- server memory, read before stopping it
    sampler.sample()
    sampler.stop()
    let vmHwmKb = NaN
    try {
      vmHwmKb = readStatusKb(child.pid, "VmHWM")
    } catch {}

    // ---- results
    const windowS = (tCpuEnd - t0) / 1000
    const lats = [...sent.keys()]
      .filter(id => observed.has(id))
      .map(id => observed.get(id).lat)
      .sort((a, b) => a - b)
    const observedInWindow = [...sent.keys()].filter(id => observed.has(id) && observed.get(id).recv <= tEnd).length
    const serverCpuS = cpuEnd - cpuStart
    const clientCpuS = (clientCpu.user + clientCpu.system) / 1e6
    const hostBusyS = hostEnd.busy - hostStart.busy
    // CPU that neither the server nor this process used: other work on the machine
    // (a build, another benchmark) that competed with this run
    const otherCores = Math.max(0, (hostBusyS - serverCpuS - clientCpuS) / windowS)
    if (otherCores > 0.15) {
      log(`WARNING: other processes used ${otherCores.toFixed(2)} cores during the window; results are skewed`)
    }
    const peakKb = Math.max(Number.isFinite(vmHwmKb) ? vmHwmKb : 0, sampler.maxRssKb)
    const lean = results.reduce(
      (a, r) => ({
        messages_in: a.messages_in + r.lean.msgsIn,
        messages_out: a.messages_out + r.lean.msgsOut,
        bytes_in: a.bytes_in + r.lean.bytesIn,
        bytes_out: a.bytes_out + r.lean.bytesOut,
      }),
      { messages_in: 0, messages_out: 0, bytes_in: 0, bytes_out: 0 },
    )

    shuttingDown = true
    log("stopping clients and server")
    await Promise.race([Promise.all(hosts.map(h => h.close())), sleep(10_000)])
    await Promise.race([Promise.all([...repos].map(closeRepo)), sleep(5000)])
    await stopServer()
    const storage = dirStats(dataDir)

    const result = {
      server: "automerge-repo-sync-server",
      version: serverVersion,
      server_automerge_repo_version: serverRepoVersion,
      client_versions: {
        "automerge-repo": pkgVersion("@automerge/automerge-repo"),
        "automerge-repo-network-websocket": pkgVersion("@automerge/automerge-repo-network-websocket"),
        automerge: pkgVersion("@automerge/automerge"),
      },
      node: process.version,
      client: opts.client,
      docs: opts.docs,
      history: opts.history,
      client_threads: opts.workers === 0 ? 1 : hosts.length + 1,
      devices: opts.devices,
      teams,
      seconds: opts.seconds,
      rate: opts.rate,
      docs: { places: PLACES_DOCS, places_per_doc: PLACES_PER_DOC, visits: teams, per_device: 1 + PLACES_DOCS, observer: allUrls.length },
      edits_sent: sent.size,
      edits_skipped_client_overload: skipped,
      edits_observed: lats.length,
      edits_observed_in_window: observedInWindow,
      edits_missing: sent.size - lats.length,
      throughput_per_s: round(lats.length / opts.seconds, 2),
      latency_ms: {
        p50: round(percentile(lats, 50), 2),
        p90: round(percentile(lats, 90), 2),
        p99: round(percentile(lats, 99), 2),
        max: round(lats.length ? lats[lats.length - 1] : null, 2),
        mean: round(lats.length ? lats.reduce((a, b) => a + b, 0) / lats.length : null, 2),
      },
      straggler_wait_ms: Math.round(graceUsedMs),
      devices_converged: converged,
      server_cpu_s: round(serverCpuS, 2),
      server_cpu_pct: round((serverCpuS / windowS) * 100, 1),
      server_peak_rss_mb: round(peakKb / 1024, 1),
      server_vmhwm_mb: round(vmHwmKb / 1024, 1),
      server_max_sampled_rss_mb: round(sampler.maxRssKb / 1024, 1),
      server_rss_at_window_start_mb: round(rssStartKb / 1024, 1),
      server_rss_samples: sampler.samples,
      server_storage: { persisted_to_disk: storage.files > 0, files: storage.files, bytes: storage.bytes },
      client_cpu_pct: round((clientCpuS / windowS) * 100, 1),
      host_cores: os.cpus().length,
      host_cpu_busy_pct: round((hostBusyS / (hostEnd.total - hostStart.total)) * 100, 1),
      other_processes_cpu_cores: round(otherCores, 2),
      client_event_loop_delay_ms: {
        observer_thread: {
          p50: round(Math.max(0, mainEld.percentile(50) / 1e6 - ELD_RESOLUTION_MS), 2),
          p99: round(Math.max(0, mainEld.percentile(99) / 1e6 - ELD_RESOLUTION_MS), 2),
          max: round(Math.max(0, mainEld.max / 1e6 - ELD_RESOLUTION_MS), 2),
        },
        device_threads_worst: {
          p50: round(Math.max(...results.map(r => r.eld.p50)), 2),
          p99: round(Math.max(...results.map(r => r.eld.p99)), 2),
          max: round(Math.max(...results.map(r => r.eld.max)), 2),
        },
      },
      observer_patches: observerPatches,
      client_library_errors: opts.workers === 0 ? libraryErrors : libraryErrors + results.reduce((a, r) => a + r.libraryErrors, 0),
      ...(opts.client === "lean" ? { lean_devices_ws_in_window: lean } : {}),
    }
    process.stdout.write(JSON.stringify(result) + "\n")
    if (opts.keepData) log(`server data kept in ${tmpDir}`)
  }

  main().then(
    () => {
      removeTmpSync()
      process.exit(0)
    },
    e => {
      log("failed:", e?.stack || e)
      shuttingDown = true
      killServerSync()
      process.exit(1)
    },
  )
}
