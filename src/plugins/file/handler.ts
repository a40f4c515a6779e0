/**
 * file (CoreDNS plugin/file): authoritative answers from RFC 1035 zone files. This module holds the
 * zones (each re-read from disk when it changes) and answers queries from them; the lookup itself is
 * zone.ts, the file syntax zone-parser.ts.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Rcode, RRType } from '../../dns/constants.js';
import { replyTo, type Message } from '../../dns/message.js';
import { isClientWrite, nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import { type Fallthrough, matchZone } from '../../plugin/zones.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { parseZone } from './zone-parser.js';
import type { Resolver, Zone } from './zone.js';
import { fileStamp } from '../../plugin/file-stamp.js';

export interface ZoneSourceOptions {
  /** Canonical origin. */
  origin: string;
  /** Absolute path of the zone file. */
  file: string;
  /** Check interval in ms; 0 never re-reads. */
  reloadMs: number;
  /** Swap in a changed file even when its SOA serial did not change (CoreDNS reload_by_mtime). */
  byMtime: boolean;
}

/**
 * One zone read from one file. The zone in use is replaced only by a complete, valid parse of a
 * changed file: a file that fails to parse is logged and the old zone keeps serving.
 */
export class ZoneSource {
  zone: Zone | undefined;
  private stamp = '';
  private watched: string[];

  constructor(readonly o: ZoneSourceOptions, private readonly logger: Logger) {
    this.watched = [o.file];
  }

  /** Reads and parses the file now; throws ConfigError on a syntax error and the fs error when unreadable. */
  loadOrThrow(): void {
    const r = this.read();
    this.zone = r.zone;
    this.watched = r.watched;
    this.stamp = r.stamp;
  }

  /**
   * The reload tick: re-reads the file when it (or a file it includes) changed on disk, and swaps the
   * zone in when the SOA serial changed (or always with byMtime), as CoreDNS does. Never throws.
   */
  reloadIfChanged(): void {
    const stamp = this.currentStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp; // a broken file is reported once per change, not on every tick
    let r: { zone: Zone; watched: string[]; stamp: string };
    try {
      r = this.read();
    } catch (err) {
      const what = this.zone ? 'keeping the zone loaded before' : 'the zone stays unavailable';
      this.logger.error({ err }, `plugin/file: Parsing zone "${this.o.origin}": ${(err as Error).message} (${what})`);
      return;
    }
    this.watched = r.watched;
    this.stamp = r.stamp;
    if (this.zone && !this.o.byMtime && r.zone.serial === this.zone.serial) {
      this.logger.info(`plugin/file: Zone "${this.o.origin}" in "${this.o.file}" changed on disk but its SOA serial ${r.zone.serial} did not: not reloaded`);
      return;
    }
    this.zone = r.zone;
    this.logger.info(`plugin/file: Successfully reloaded zone "${this.o.origin}" in "${this.o.file}" with ${r.zone.serial} SOA serial`);
  }

  private read(): { zone: Zone; watched: string[]; stamp: string } {
    const before = fileStamp(this.o.file); // taken before reading, so a write during the read is seen next tick
    const text = fs.readFileSync(this.o.file, 'utf8');
    const { zone, included } = parseZone(text, { origin: this.o.origin, file: this.o.file, readFile: (f) => fs.readFileSync(f, 'utf8') });
    return { zone, watched: [this.o.file, ...included], stamp: [before, ...included.map(fileStamp)].join('|') };
  }

  /** Size, mtime and inode of the file and of what it includes ("missing" for an absent file). */
  private currentStamp(): string {
    return this.watched.map(fileStamp).join('|');
  }
}


export interface FileHandlerOptions {
  sources: ZoneSource[];
  fall: Fallthrough;
  /** Resolves names the zones have no node for through the server's own chain (CoreDNS upstream). */
  resolve?: (name: string, type: number, parent: Request) => Promise<Message>;
}

export class FileHandler {
  private readonly byOrigin = new Map<string, ZoneSource>();
  private readonly names: string[];

  constructor(private readonly o: FileHandlerOptions) {
    for (const s of o.sources) this.byOrigin.set(s.o.origin, s);
    this.names = [...this.byOrigin.keys()];
  }

  withNext(next: Handler | undefined): Handler {
    return { name: 'file', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  private async serve(next: Handler | undefined, req: Request, w: ResponseWriter): Promise<number> {
    const origin = matchZone(this.names, req.name);
    if (origin === undefined) {
      // Not ours. With nothing after us, REFUSED is the authoritative server's answer (CoreDNS).
      return next ? next.serveDNS(req, w) : Rcode.REFUSED;
    }
    const zone = this.byOrigin.get(origin)!.zone;
    if (!zone) return Rcode.SERVFAIL; // the file could not be read yet
    // No transfer plugin here: transfers are refused, as CoreDNS's file without transfer does.
    if (req.qtype === RRType.AXFR || req.qtype === RRType.IXFR) return Rcode.REFUSED;

    const resolve = this.o.resolve;
    const resolver: Resolver | undefined = resolve ? (name, type) => resolve(name, type, req) : undefined;
    const r = await zone.lookup(req.name, req.qtype, req.do, resolver);

    // Only a name error falls through (an empty non-terminal is reported as success, as in CoreDNS).
    if (r.answer.length === 0 && (r.result === 'nameError' || r.result === 'success') && this.o.fall.through(req.name)) {
      return nextOrFailure('file', next, req, w);
    }

    const m = replyTo(req.msg);
    m.aa = true;
    m.answers = r.answer;
    m.authorities = r.ns;
    m.additionals = r.extra;
    switch (r.result) {
      case 'nameError':
        m.rcode = Rcode.NXDOMAIN;
        break;
      case 'delegation':
        // A referral is not authoritative; a partial answer (our CNAME into the cut) keeps AA.
        if (m.answers.length === 0) m.aa = false;
        break;
      case 'serverFailure':
        if (m.answers.length === 0) return Rcode.SERVFAIL;
        m.rcode = Rcode.SERVFAIL; // the CNAME we have, with the target's failure (RFC 6604 §3)
        break;
      default:
        break;
    }
    w.writeMsg(m);
    return isClientWrite(m.rcode) ? m.rcode : Rcode.NOERROR;
  }
}
