/**
 * hosts (CoreDNS plugin/hosts): A/AAAA from a hosts file and inline entries, PTR for their
 * addresses. A name the table knows but without records of the asked type is NOERROR/NODATA; an
 * unknown name goes to the next plugin when fallthrough covers it, else SERVFAIL (hosts has no SOA
 * to make an NXDOMAIN with — CoreDNS's behaviour).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { replyTo } from '../../dns/message.js';
import { reverseNameToIp } from '../../dns/names.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import { type Fallthrough, matchZone } from '../../plugin/zones.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { addHostsLines, emptyTable, type HostsTable } from './hosts-table.js';
import { fileStamp } from '../../plugin/file-stamp.js';

export interface HostsOptions {
  file: string;
  zones: string[];
  ttl: number;
  reverse: boolean;
  fall: Fallthrough;
  inline: string;
  logger: Logger;
}

export class HostsHandler {
  private table: HostsTable = emptyTable();
  private stamp = '';

  constructor(private readonly o: HostsOptions) {}

  /** Reads the file and inline entries into a fresh table (the old one serves until this returns). */
  load(): void {
    const t = emptyTable();
    addHostsLines(t, this.o.inline, this.o.zones);
    try {
      addHostsLines(t, fs.readFileSync(this.o.file, 'utf8'), this.o.zones);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.logger.error({ err }, `plugin/hosts: cannot read ${this.o.file}`);
    }
    this.stamp = fileStamp(this.o.file);
    this.table = t;
  }

  reloadIfChanged(): void {
    if (fileStamp(this.o.file) !== this.stamp) this.load();
  }

  withNext(next: Handler | undefined): Handler {
    return { name: 'hosts', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  private async serve(next: Handler | undefined, req: Request, w: ResponseWriter): Promise<number> {
    const name = req.name;
    const inZone = matchZone(this.o.zones, name) !== undefined;
    if (!inZone && req.qtype !== RRType.PTR) return nextOrFailure('hosts', next, req, w);
    const m = replyTo(req.msg);
    m.aa = true;
    const { ttl } = this.o;
    if (req.qtype === RRType.PTR) {
      const ip = reverseNameToIp(name);
      const names = ip && this.o.reverse ? this.table.byAddr.get(ip) : undefined;
      if (!names) return nextOrFailure('hosts', next, req, w);
      for (const target of names) m.answers.push({ name: req.qname, class: RRClass.IN, ttl, type: RRType.PTR, target });
    } else if (req.qtype === RRType.A) {
      for (const address of this.table.v4.get(name) ?? []) m.answers.push({ name: req.qname, class: RRClass.IN, ttl, type: RRType.A, address });
    } else if (req.qtype === RRType.AAAA) {
      for (const address of this.table.v6.get(name) ?? []) m.answers.push({ name: req.qname, class: RRClass.IN, ttl, type: RRType.AAAA, address });
    }
    if (m.answers.length === 0 && !this.table.v4.has(name) && !this.table.v6.has(name)) {
      if (this.o.fall.through(name)) return nextOrFailure('hosts', next, req, w);
      return Rcode.SERVFAIL;
    }
    w.writeMsg(m);
    return Rcode.NOERROR;
  }
}
