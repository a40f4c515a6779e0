/**
 * loop setup (CoreDNS plugin/loop/setup.go): `loop`, no arguments, once per server block.
 *
 * Once the server listens, the probe — HINFO `<random>.<random>.<first zone of the block>` — is
 * sent to 127.0.0.1 on the block's port. A probe that gets no answer within 2s resets the count
 * and is sent again a second later, for up to 30s (the server may still be starting, an upstream
 * may be slow). Once a probe is answered, or after 30s, the plugin disables itself, so a stray
 * query can never kill a running server.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { RRClass, RRType } from '../../dns/constants.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader } from '../../dns/message.js';
import { joinName } from '../../dns/names.js';
import { ErrorCodes } from '../../errors.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { Loop } from './handler.js';

/** How long to keep trying to get a probe answered (CoreDNS: 30s). */
const PROBE_WINDOW_MS = 30_000;
/** How long one probe waits for its answer (miekg/dns Exchange's default). */
const PROBE_TIMEOUT_MS = 2000;
/** Pause after an unanswered probe. */
const PROBE_RETRY_MS = 1000;

/** A random non-negative 62-bit integer in decimal, as CoreDNS's probe labels. */
function randomLabel(): string {
  return (randomBytes(8).readBigUInt64BE() & ((1n << 62n) - 1n)).toString();
}

export const loop: PluginSetup = {
  name: 'loop',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('loop', directives), 'loop');
    r.args(0, 0);
    r.noBlock();
    const zone = ctx.addresses[0]?.zone ?? '.';
    const logger = ctx.logger;
    const l = new Loop({
      zone,
      qname: joinName(randomLabel(), randomLabel(), zone),
      onLoop(message) {
        logger.fatal({ code: ErrorCodes.LOOP_DETECTED }, `[FATAL] plugin/loop: ${message}`);
        // Let the log line out, then stop: a forwarding loop would exhaust the process anyway.
        const exit = (): never => process.exit(1);
        setTimeout(exit, 1000).unref();
        logger.flush(() => exit());
      },
    });

    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let sock: dgram.Socket | undefined;
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => { timer = setTimeout(resolve, ms); });

    /** Sends the probe once; true when it was answered. */
    const exchange = (port: number): Promise<boolean> =>
      new Promise((resolve) => {
        const id = randomBytes(2).readUInt16BE();
        const wire = encodeMessage({
          ...emptyHeader(id), rd: true,
          questions: [{ name: l.o.qname, type: RRType.HINFO, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
        });
        const s = dgram.createSocket('udp4');
        sock = s;
        const done = (ok: boolean): void => {
          clearTimeout(t);
          sock = undefined;
          try { s.close(); } catch { /* closed */ }
          resolve(ok);
        };
        const t = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
        s.on('error', () => done(false));
        s.on('message', (msg) => {
          if (msg.length >= 12 && msg.readUInt16BE(0) === id) done(true);
        });
        s.send(wire, port, '127.0.0.1');
      });

    const probe = async (): Promise<void> => {
      if (ctx.port === 0) {
        logger.warn('[WARNING] plugin/loop: the server block listens on port 0, no loop detection');
        l.disable();
        return;
      }
      l.address = `:${ctx.port}`;
      const deadline = Date.now() + PROBE_WINDOW_MS;
      while (!stopped && Date.now() < deadline) {
        if (await exchange(ctx.port)) break;
        l.reset();
        if (!stopped) await sleep(PROBE_RETRY_MS);
      }
      l.disable();
    };

    return {
      handler: (next) => l.handler(next),
      async afterListen() {
        // In the background: startup must not wait on the probe (it may be what loops).
        void probe();
      },
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        try { sock?.close(); } catch { /* closed */ }
      },
    };
  },
};
