/**
 * The request wrapper (CoreDNS's request.Request): the facts every plugin asks for, computed once.
 */
import type { Message, Question } from '../dns/message.js';
import { UDP_SIZE_DEFAULT_CAP, UDP_SIZE_NO_EDNS } from '../dns/constants.js';

export type Transport = 'udp' | 'tcp';

export interface RequestOrigin {
  transport: Transport;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The server label used in logs and metrics: "dns://:53". */
  server: string;
  /** The most we ever send over UDP, whatever the client advertises (default 1232). */
  udpSizeCap?: number;
  /** How many internal lookups (CNAME chasing through our own chain) led to this request; 0 from the wire. */
  depth?: number;
}

export class Request {
  /** Lower-cased absolute question name ("web.demo.svc.cluster.local."). */
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  /** The server block zone this query was routed to (set by the server before the chain runs). */
  zone = '.';
  /** The plugin that wrote the reply (set by the chain; the metrics plugin's `plugin` label). */
  writtenBy: string | undefined;

  constructor(
    /** The decoded query. Plugins that rewrite the question make a new Request with `withQuestion`. */
    readonly msg: Message,
    readonly origin: RequestOrigin,
    /** The raw query bytes when the request came off the wire (undefined for synthetic requests). */
    readonly wire?: Buffer,
  ) {
    const q = msg.questions[0];
    this.name = q ? q.name.toLowerCase() : '.';
    this.qtype = q ? q.type : 0;
    this.qclass = q ? q.class : 0;
  }

  get question(): Question {
    return this.msg.questions[0] ?? { name: '.', type: 0, class: 1 };
  }
  /** The question name as the client wrote it (case kept). */
  get qname(): string {
    return this.question.name;
  }
  get id(): number {
    return this.msg.id;
  }
  get transport(): Transport {
    return this.origin.transport;
  }
  get remoteAddress(): string {
    return this.origin.remoteAddress;
  }
  /** 1 for IPv4, 2 for IPv6 (CoreDNS's family label). */
  get family(): 1 | 2 {
    return this.origin.remoteAddress.includes(':') ? 2 : 1;
  }
  get hasEdns(): boolean {
    return this.msg.edns !== undefined;
  }
  get do(): boolean {
    return this.msg.edns?.do ?? false;
  }
  /** The largest reply we may send: 512 without EDNS, the advertised size (512..cap) with it, 65535 on TCP. */
  get maxSize(): number {
    if (this.origin.transport === 'tcp') return 65535;
    const e = this.msg.edns;
    if (!e) return UDP_SIZE_NO_EDNS;
    const cap = this.origin.udpSizeCap ?? UDP_SIZE_DEFAULT_CAP;
    return Math.min(Math.max(e.udpSize, UDP_SIZE_NO_EDNS), cap);
  }
  /** A copy of this request with another question (rewrite, autopath); the origin and zone are kept. */
  withQuestion(q: Question): Request {
    const r = new Request({ ...this.msg, questions: [q] }, this.origin);
    r.zone = this.zone;
    return r;
  }
}
