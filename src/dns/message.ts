/**
 * The DNS message model every module shares. Names are absolute and written with a trailing dot
 * ("web.demo.svc.cluster.local."); the root is ".". Case is kept as given: compare with
 * `canonicalName()` from names.ts.
 */

export interface Question {
  name: string;
  type: number;
  class: number;
}

interface RecordHeader {
  name: string;
  /** RRClass.IN for almost everything; CH for chaos. */
  class: number;
  ttl: number;
}

/** Record data for the types clusterdns produces or inspects. Anything else travels as raw RDATA. */
export type RecordData =
  | { type: 1; address: string } // A
  | { type: 28; address: string } // AAAA
  | { type: 2 | 5 | 12 | 39; target: string } // NS, CNAME, PTR, DNAME
  | { type: 15; preference: number; exchange: string } // MX
  | { type: 33; priority: number; weight: number; port: number; target: string } // SRV
  | { type: 16; strings: string[] } // TXT: each string up to 255 bytes (UTF-8)
  | { type: 13; cpu: string; os: string } // HINFO
  | { type: 6; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number } // SOA
  | { type: 257; flags: number; tag: string; value: string } // CAA
  | { type: number; rdata: Uint8Array; raw: true }; // any other type (RFC 3597)

export type ResourceRecord = RecordHeader & RecordData;

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

export interface Edns {
  /** Requestor's (or our) UDP payload size; values below 512 are treated as 512. */
  udpSize: number;
  version: number;
  /** DNSSEC OK bit. */
  do: boolean;
  options: EdnsOption[];
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The Z bit; must be zero, kept for fidelity. */
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** The full 12-bit rcode: the codec splits the upper 8 bits into the OPT record. */
  rcode: number;
}

export interface Message extends Header {
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
  /** Present when the message carries an OPT pseudo-record. Never also in `additionals`. */
  edns?: Edns;
}

export function emptyHeader(id = 0): Header {
  return { id, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0 };
}

/** A reply skeleton for a query: same ID, opcode, RD and CD, the question copied, QR set. */
export function replyTo(query: Message, rcode = 0): Message {
  return {
    id: query.id, qr: true, opcode: query.opcode, aa: false, tc: false, rd: query.rd, ra: true, z: false,
    ad: false, cd: query.cd, rcode,
    questions: query.questions.map((q) => ({ ...q })),
    answers: [], authorities: [], additionals: [],
    ...(query.edns ? { edns: { udpSize: 1232, version: 0, do: query.edns.do, options: [] } } : {}),
  };
}
