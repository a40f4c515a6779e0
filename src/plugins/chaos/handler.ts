/**
 * chaos (CoreDNS plugin/chaos): answers TXT queries in the CH class for version.bind,
 * version.server, authors.bind, hostname.bind and id.server. Anything else (another class, another
 * type, another name) goes to the next plugin. Records have TTL 0, the question's name as written,
 * and no AA bit, as CoreDNS sends them.
 */
import os from 'node:os';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { replyTo } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';

export interface ChaosOptions {
  version: string;
  authors: readonly string[];
}

export function chaosHandler(o: ChaosOptions, next: Handler | undefined): Handler {
  return {
    name: 'chaos',
    async serveDNS(req, w) {
      if (req.qclass !== RRClass.CH || req.qtype !== RRType.TXT) return nextOrFailure('chaos', next, req, w);
      let texts: string[];
      switch (req.name) {
        case 'authors.bind.':
          texts = shuffle([...o.authors]);
          break;
        case 'version.bind.':
        case 'version.server.':
          texts = [o.version];
          break;
        case 'hostname.bind.':
        case 'id.server.':
          texts = [trim(hostname())];
          break;
        default:
          return nextOrFailure('chaos', next, req, w);
      }
      const m = replyTo(req.msg);
      for (const t of texts) m.answers.push({ name: req.qname, class: RRClass.CH, ttl: 0, type: RRType.TXT, strings: [t] });
      w.writeMsg(m);
      return Rcode.NOERROR;
    },
  };
}

function hostname(): string {
  try {
    return os.hostname() || 'localhost';
  } catch {
    return 'localhost';
  }
}

/** A TXT string holds at most 255 bytes: cut longer values (CoreDNS's trim, in bytes of UTF-8). */
export function trim(s: string): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= 255) return s;
  let end = 255;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
  return b.subarray(0, end).toString('utf8');
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
