/**
 * The reply side of rewrite (CoreDNS's reverter.go): the client gets back the question it asked,
 * and the response rules the matching request rules produced (answer name/value mapping, ttl,
 * rcode) are applied to a copy of the reply, to every record of the answer, authority and
 * additional sections, last rule first.
 */
import { decodeMessage } from '../../dns/decode.js';
import { RRType } from '../../dns/constants.js';
import { asciiLower } from '../../dns/names.js';
import type { Message, Question, ResourceRecord } from '../../dns/message.js';
import { ResponseRecorder, type ResponseWriter } from '../../server/response-writer.js';
import { substituteGroups } from './regex.js';

/** Maps one name to another; returns the input when it does not apply. */
export interface StringRewriter {
  rewrite(s: string): string;
}

/** `answer name|value FROM TO`: the regex replacement, with `{N}` groups. */
export class RegexRewriter implements StringRewriter {
  constructor(
    private readonly pattern: RegExp,
    private readonly replacement: string,
  ) {}
  rewrite(s: string): string {
    return substituteGroups(this.pattern, s, this.replacement) ?? s;
  }
}

/**
 * `answer auto` and exact rules: the rewritten name back to the asked one, and names below it
 * likewise ("x.rewritten." → "x.asked."). ASCII case-insensitive.
 */
export class RemapRewriter implements StringRewriter {
  constructor(
    private readonly from: string,
    private readonly to: string,
  ) {}
  rewrite(s: string): string {
    const l = asciiLower(s);
    if (l === this.from) return this.to;
    const i = l.length - this.from.length;
    if (i > 0 && l.charCodeAt(i - 1) === 0x2e && l.endsWith(this.from)) return s.slice(0, i) + this.to;
    return s;
  }
}

/** `suffix` rules with `answer auto`: the replacement suffix back to the original one. */
export class SuffixRewriter implements StringRewriter {
  constructor(
    private readonly suffix: string,
    private readonly replacement: string,
  ) {}
  rewrite(s: string): string {
    if (!asciiLower(s).endsWith(this.suffix)) return s;
    return s.slice(0, s.length - this.suffix.length) + this.replacement;
  }
}

/** What a matching request rule asks to be done to the reply. */
export type ResponseRule =
  | { kind: 'name'; rewriter: StringRewriter }
  | { kind: 'value'; rewriter: StringRewriter }
  | { kind: 'ttl'; min: number; max: number }
  | { kind: 'rcode'; from: number; to: number };

/**
 * The domain name in a record's data that `answer value` rewrites (CNAME, DNAME, NS, PTR targets,
 * SRV target, MX exchange, SOA mname); undefined for other types. NAPTR's replacement is not
 * decoded by our codec, so it is left alone.
 */
function recordValue(rr: ResourceRecord): string | undefined {
  switch (rr.type) {
    case RRType.CNAME:
    case RRType.DNAME:
    case RRType.NS:
    case RRType.PTR:
    case RRType.SRV:
      return 'target' in rr ? rr.target : undefined;
    case RRType.MX:
      return 'exchange' in rr ? rr.exchange : undefined;
    case RRType.SOA:
      return 'mname' in rr ? rr.mname : undefined;
    default:
      return undefined;
  }
}

function setRecordValue(rr: ResourceRecord, value: string): void {
  if ('target' in rr) rr.target = value;
  else if ('exchange' in rr) rr.exchange = value;
  else if ('mname' in rr) rr.mname = value;
}

function rewriteRecord(rr: ResourceRecord, rule: ResponseRule): void {
  switch (rule.kind) {
    case 'name':
      rr.name = rule.rewriter.rewrite(rr.name);
      break;
    case 'value': {
      const v = recordValue(rr);
      if (v !== undefined && v !== '') {
        const nv = rule.rewriter.rewrite(v);
        if (nv !== v) setRecordValue(rr, nv);
      }
      break;
    }
    case 'ttl':
      if (rr.ttl < rule.min) rr.ttl = rule.min;
      else if (rr.ttl > rule.max) rr.ttl = rule.max;
      break;
    case 'rcode':
      break;
  }
}

/**
 * A rewritten copy of `reply` (the original may be shared, e.g. by the cache): question restored
 * to `original`, record rules applied to every record last rule first, then the rcode rules.
 */
export function revertReply(reply: Message, original: Question, rules: readonly ResponseRule[]): Message {
  const copy = (rrs: ResourceRecord[]): ResourceRecord[] => (rules.length === 0 ? rrs : rrs.map((rr) => ({ ...rr })));
  const res: Message = {
    ...reply,
    questions: reply.questions.length === 0 ? [{ ...original }] : [{ ...original }, ...reply.questions.slice(1)],
    answers: copy(reply.answers),
    authorities: copy(reply.authorities),
    additionals: copy(reply.additionals),
  };
  if (rules.length === 0) return res;
  for (const section of [res.authorities, res.answers, res.additionals]) {
    for (const rr of section) for (let i = rules.length - 1; i >= 0; i--) rewriteRecord(rr, rules[i]!);
  }
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    // Extended rcodes (> 15) live partly in the OPT record: without one they cannot be sent.
    if (r.kind === 'rcode' && res.rcode === r.from && (r.to <= 15 || res.edns)) res.rcode = r.to;
  }
  return res;
}

/**
 * The writer rewrite hands to the rest of the chain: whatever is written, as a Message or as
 * pre-encoded wire, goes up as the reverted Message.
 */
export class ResponseReverter extends ResponseRecorder {
  constructor(
    inner: ResponseWriter,
    private readonly original: Question,
    private readonly rules: readonly ResponseRule[],
  ) {
    super(inner);
  }

  override writeMsg(reply: Message): void {
    super.writeMsg(revertReply(reply, this.original, this.rules));
  }

  override writeWire(reply: Buffer): void {
    let m: Message;
    try {
      m = decodeMessage(reply);
    } catch {
      // Not ours to judge: an undecodable reply goes up as it is.
      super.writeWire(reply);
      return;
    }
    this.writeMsg(m);
  }
}
