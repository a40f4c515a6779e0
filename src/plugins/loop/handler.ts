/**
 * loop (CoreDNS plugin/loop/loop.go): counts how often our own probe query — HINFO
 * `<random>.<random>.<zone>`, sent to ourselves at start — comes through this server. More than
 * twice means the query went out (forward) and came back: a forwarding loop, which would eat the
 * server alive. That is fatal, as in CoreDNS.
 */
import { Rcode, RRType } from '../../dns/constants.js';
import { isSubdomain } from '../../dns/names.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';

export interface LoopOptions {
  /** The server block's first zone. */
  zone: string;
  /** The probe name (canonical). */
  qname: string;
  /** Called once with CoreDNS's message when a loop is seen; it ends the process. */
  onLoop(message: string): void;
}

export class Loop {
  private seen = 0;
  private off = false;
  private fired = false;
  /** Where the probe was sent, as CoreDNS prints it (":53"). */
  address = '';

  constructor(readonly o: LoopOptions) {}

  get disabled(): boolean {
    return this.off;
  }
  disable(): void {
    this.off = true;
  }
  /** The probe was not answered: whatever came through so far was not a loop. */
  reset(): void {
    this.seen = 0;
  }
  get count(): number {
    return this.seen;
  }

  handler(next: Handler | undefined): Handler {
    return { name: 'loop', serveDNS: (req, w) => this.serve(req, w, next) };
  }

  private async serve(req: Request, w: ResponseWriter, next: Handler | undefined): Promise<number> {
    if (req.qtype !== RRType.HINFO || this.off || !isSubdomain(req.name, this.o.zone)) return nextOrFailure('loop', next, req, w);
    if (req.name === this.o.qname) this.seen++;
    if (this.seen > 2) {
      if (!this.fired) {
        this.fired = true;
        this.o.onLoop(`Loop (${remote(req)} -> ${this.address}) detected for zone "${this.o.zone}", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO ${this.o.qname}"`);
      }
      return Rcode.SERVFAIL; // do not send it round again while the process ends
    }
    return nextOrFailure('loop', next, req, w);
  }
}

/** "127.0.0.1:53124" / "[::1]:53124", IPv4-mapped addresses shown as IPv4. */
function remote(req: Request): string {
  const a = req.remoteAddress.startsWith('::ffff:') && req.remoteAddress.includes('.') ? req.remoteAddress.slice(7) : req.remoteAddress;
  return a.includes(':') ? `[${a}]:${req.origin.remotePort}` : `${a}:${req.origin.remotePort}`;
}
