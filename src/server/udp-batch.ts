/**
 * The batched UDP addon (native/udp_batch.c, built into build/Release/udp_batch.node by
 * scripts/build-native.mjs): its typed API, how it is loaded, and how it takes over the reading of
 * a bound dgram socket. What to do with the datagrams is udp.ts's business.
 *
 * One poll on the socket; when it is readable the addon reads up to `batch` datagrams with one
 * recvmmsg into the `in` slab and calls back once for the batch; the replies written into the `out`
 * slab during that call go out with one sendmmsg (`send(n)`), later replies with `sendOne`.
 * See the comment at the top of native/udp_batch.c for the slab layout.
 */
import type dgram from 'node:dgram';
import { createRequire } from 'node:module';

/** Int32s per received datagram in `inMeta`: [length, flags, family (4|6), port, address bytes × 4]. */
export const IN_META = 8;
/** Int32s per reply in `outMeta`: [length, index in this batch of the datagram answered]. */
export const OUT_META = 2;
/** inMeta flag: the datagram was longer than `slot` and is cut (MSG_TRUNC). */
export const FLAG_TRUNCATED = 1;
/** inMeta flag: a link-local IPv6 source whose text carries its interface ("fe80::1%eth0"). */
export const FLAG_SCOPED = 2;
/** The addon's ABI_VERSION this file is written for. */
const ABI = 3;

export interface BatchStats {
  received: number;
  sent: number;
  batches: number;
  /** Datagrams longer than `slot`, dropped. */
  truncated: number;
  recvErrors: number;
  sendErrors: number;
  /** Sends the kernel refused for now (EAGAIN); those replies waited for POLLOUT. */
  wouldBlock: number;
  /** Replies dropped because MAX_QUEUED were already waiting. */
  dropped: number;
  /** Replies waiting for POLLOUT now. */
  queued: number;
}

export interface BatchSocket {
  /** Datagram i of the current batch: bytes [i*slot, i*slot + inMeta[i*IN_META]). */
  readonly in: Uint8Array;
  readonly inMeta: Int32Array;
  /** Reply j: bytes [j*slot, j*slot + outMeta[j*OUT_META]). */
  readonly out: Uint8Array;
  readonly outMeta: Int32Array;
  readonly batch: number;
  readonly slot: number;
  /** Sends replies [0, n) of `out` (only during the batch callback); returns how many went out now. */
  send(n: number): number;
  /** Sends one reply to an IP literal; false when it had to wait for POLLOUT (or was dropped). */
  sendOne(data: Uint8Array, address: string, port: number): boolean;
  /** Datagram i's source as dgram's rinfo.address would give it (only during the batch callback). */
  address(i: number): string;
  stats(): BatchStats;
  /** Tests only: the next n send system calls act as if the kernel said EAGAIN (loopback never does). */
  simulateWouldBlock(n: number): void;
  /** Stops at once; the addon's fd is closed once libuv lets go of it. Idempotent. */
  close(): void;
}

export interface UdpBatchAddon {
  abi: number;
  inMeta: number;
  outMeta: number;
  open(fd: number, options: { batch?: number; slot?: number }, onBatch: (n: number) => void): BatchSocket;
  /** native/malloc_trim.c, built into the same addon: glibc's malloc_trim(0); true when memory was released. */
  mallocTrim(): boolean;
  /** native/page_out.c, built into the same addon: madvise(MADV_PAGEOUT) on [start, start + length); 0 or the errno. */
  pageOut(start: number, length: number): number;
}

export type Availability =
  | { ok: true; addon: UdpBatchAddon }
  /** disabled: turned off on purpose (CLUSTERDNS_UDP_BATCH=0), not a failure. */
  | { ok: false; disabled: boolean; reason: string };

const ADDON_PATH = new URL('../../build/Release/udp_batch.node', import.meta.url).pathname;

/** Loads the addon at `file` and checks it is the build this code expects. */
export function loadAddon(file: string): Availability {
  if (process.platform !== 'linux') return { ok: false, disabled: false, reason: `not on Linux (${process.platform})` };
  let addon: UdpBatchAddon;
  try {
    addon = createRequire(import.meta.url)(file) as UdpBatchAddon;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'MODULE_NOT_FOUND' ? `${file} is not built (npm run build)` : `${file} does not load: ${e.message}`;
    return { ok: false, disabled: false, reason };
  }
  // The ABI version names the whole API (open, mallocTrim, pageOut): it is bumped with any change.
  if (addon.abi !== ABI || addon.inMeta !== IN_META || addon.outMeta !== OUT_META) {
    return { ok: false, disabled: false, reason: `${file} is a stale build (abi ${String(addon.abi)}, expected ${ABI}): npm run build` };
  }
  return { ok: true, addon };
}

let cached: Availability | undefined;

/** The addon, whatever CLUSTERDNS_UDP_BATCH says (malloc-trim.ts and page-out.ts use it too). Loaded once per process. */
export function nativeAddon(): Availability {
  cached ??= loadAddon(ADDON_PATH);
  return cached;
}

/**
 * Whether UDP is served in batches: the addon is built and loads, and `CLUSTERDNS_UDP_BATCH` is
 * not "0" (which forces Node's dgram, e.g. to compare the two).
 */
export function udpBatch(env: NodeJS.ProcessEnv = process.env): Availability {
  if (env.CLUSTERDNS_UDP_BATCH === '0') return { ok: false, disabled: true, reason: 'CLUSTERDNS_UDP_BATCH=0' };
  return nativeAddon();
}

export interface BatchOptions {
  /** Datagrams read (and replies sent) per system call; default 64. */
  batch?: number;
  /** Bytes per datagram slot; a longer datagram is flagged FLAG_TRUNCATED. Default 4096. */
  slot?: number;
}

/**
 * Moves the reading of a bound dgram socket to the addon: dgram stops reading (the socket stays
 * Node's: address(), connect(), setRecvBufferSize() and close() keep working on it), the addon
 * reads a dup of its fd. Throws when it cannot (dgram keeps reading then).
 */
export function adoptDgram(addon: UdpBatchAddon, socket: dgram.Socket, onBatch: (n: number) => void, o: BatchOptions = {}): BatchSocket {
  const handle = dgramHandle(socket);
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.recvStop !== 'function') {
    throw new Error('the dgram socket has no bound handle with an fd');
  }
  // First dgram stops (libuv drops its watcher), then the addon dups the fd and watches the dup.
  handle.recvStop();
  try {
    return addon.open(handle.fd, { batch: o.batch ?? 64, slot: o.slot ?? 4096 }, onBatch);
  } catch (err) {
    handle.recvStart();
    throw err;
  }
}

interface UdpHandle {
  fd: number;
  recvStop(): number;
  recvStart(): number;
}

/**
 * dgram's native handle (a UDP wrap with `fd`, `recvStop`, `recvStart`). `socket._handle` reaches
 * it but is deprecated (it prints DEP0112); the socket keeps the same handle under a private symbol
 * described 'state symbol', as `.handle` (kStateSymbol in Node 20's lib/internal/dgram.js). This is
 * the one place that reaches into dgram's internals: should a later Node move it, this finds no
 * handle, adoptDgram throws, and the socket is served through dgram (with a warning).
 */
function dgramHandle(socket: dgram.Socket): UdpHandle | undefined {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = sym ? ((socket as unknown as Record<symbol, { handle?: UdpHandle | null } | undefined>)[sym]) : undefined;
  return state?.handle ?? undefined;
}
