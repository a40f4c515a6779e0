/**
 * log (CoreDNS plugin/log): one line per query in CoreDNS's common log format, written through
 * pino (the line is the `msg`, so `kubectl logs` reads as with CoreDNS):
 *   [INFO] 10.0.0.1:51542 - 36253 "A IN web.demo.svc.cluster.local. udp 55 false 1232" NOERROR qr,aa,rd 102 0.000132s
 */
import type { Logger } from 'pino';
import { classToString, Rcode, rcodeToString, typeToString } from '../../dns/constants.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { HandlerFactory } from '../../plugin/types.js';
import { matchZone } from '../../plugin/zones.js';
import type { Request } from '../../server/request.js';
import { ResponseRecorder } from '../../server/response-writer.js';

export type LogClass = 'all' | 'success' | 'denial' | 'error';

export const COMMON_FORMAT = '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}';
export const COMBINED_FORMAT = `${COMMON_FORMAT} "{>opcode}"`;

export function logHandler(opts: { zones: string[]; format: string; classes: Set<LogClass>; logger: Logger }): HandlerFactory {
  const render = compile(opts.format);
  return (next) => ({
    name: 'log',
    async serveDNS(req, w) {
      if (!matchZone(opts.zones, req.name)) return nextOrFailure('log', next, req, w);
      const start = process.hrtime.bigint();
      const rec = new ResponseRecorder(w);
      const rcode = await nextOrFailure('log', next, req, rec);
      const shown = rec.written ? rec.rcode : rcode;
      if (!wanted(opts.classes, shown)) return rcode;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      opts.logger.info(`[INFO] ${render({ req, rec, rcode: shown, seconds })}`);
      return rcode;
    },
  });
}

function wanted(classes: Set<LogClass>, rcode: number): boolean {
  if (classes.has('all')) return true;
  if (rcode === Rcode.NOERROR) return classes.has('success');
  if (rcode === Rcode.NXDOMAIN) return classes.has('denial');
  return classes.has('error');
}

interface LogFacts {
  req: Request;
  rec: ResponseRecorder;
  rcode: number;
  seconds: number;
}

type Piece = string | ((f: LogFacts) => string);

const placeholders: Record<string, (f: LogFacts) => string> = {
  remote: (f) => (f.req.family === 2 ? `[${f.req.remoteAddress}]` : f.req.remoteAddress),
  port: (f) => String(f.req.origin.remotePort),
  '>id': (f) => String(f.req.id),
  type: (f) => typeToString(f.req.qtype),
  class: (f) => classToString(f.req.qclass),
  name: (f) => f.req.qname,
  proto: (f) => f.req.transport,
  size: (f) => String(f.req.wire?.length ?? 0),
  '>do': (f) => String(f.req.do),
  '>bufsize': (f) => String(f.req.msg.edns ? f.req.msg.edns.udpSize : 512),
  rcode: (f) => (f.rcode < 0 ? '-' : rcodeToString(f.rcode)),
  '>rflags': (f) => replyFlags(f.rec),
  rsize: (f) => String(f.rec.size),
  duration: (f) => `${f.seconds.toFixed(9).replace(/0+$/, '').replace(/\.$/, '')}s`,
  '>opcode': (f) => ['QUERY', 'IQUERY', 'STATUS', '', 'NOTIFY', 'UPDATE'][f.req.msg.opcode] ?? String(f.req.msg.opcode),
  local: (f) => f.req.origin.localAddress,
  '>rcode': (f) => (f.rcode < 0 ? '-' : rcodeToString(f.rcode)),
};

/** Compiles a format once: the per-query work is calling the pieces. */
function compile(format: string): (f: LogFacts) => string {
  const pieces: Piece[] = [];
  const re = /\{([^{}]+)\}/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    pieces.push(format.slice(last, m.index));
    const fn = placeholders[m[1]!];
    pieces.push(fn ?? m[0]);
    last = re.lastIndex;
  }
  pieces.push(format.slice(last));
  return (f) => {
    let s = '';
    for (const p of pieces) s += typeof p === 'string' ? p : p(f);
    return s;
  };
}

function replyFlags(rec: ResponseRecorder): string {
  let b2: number;
  let b3: number;
  if (rec.wire && rec.wire.length >= 4) {
    b2 = rec.wire[2]!;
    b3 = rec.wire[3]!;
  } else if (rec.msg) {
    const m = rec.msg;
    b2 = (m.qr ? 0x80 : 0) | (m.aa ? 0x04 : 0) | (m.tc ? 0x02 : 0) | (m.rd ? 0x01 : 0);
    b3 = (m.ra ? 0x80 : 0) | (m.ad ? 0x20 : 0) | (m.cd ? 0x10 : 0);
  } else return '-';
  const flags: string[] = [];
  if (b2 & 0x80) flags.push('qr');
  if (b2 & 0x04) flags.push('aa');
  if (b2 & 0x02) flags.push('tc');
  if (b2 & 0x01) flags.push('rd');
  if (b3 & 0x80) flags.push('ra');
  if (b3 & 0x20) flags.push('ad');
  if (b3 & 0x10) flags.push('cd');
  return flags.join(',');
}
