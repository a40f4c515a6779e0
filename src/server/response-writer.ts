/**
 * How plugins answer. A reply is either a Message or a complete pre-encoded wire message whose ID
 * and question already match the request (see dns/wire-template.ts). The server's base writer
 * scrubs every reply to the client's size (TC) — nothing else in the code worries about sizes.
 *
 * Plugins that need to see or change replies (cache, log, metrics, loadbalance, rewrite) wrap the
 * writer; `ResponseRecorder` is the base for that.
 */
import type { Message } from '../dns/message.js';

export interface ResponseWriter {
  writeMsg(reply: Message): void;
  writeWire(reply: Buffer): void;
  /** True after a reply was written through this writer (or a wrapper of it). */
  readonly written: boolean;
  /** Bytes of the reply as sent on the wire (after scrubbing); 0 until written. */
  readonly sentBytes: number;
}

/** A pass-through wrapper that remembers the rcode and size of what went out. */
export class ResponseRecorder implements ResponseWriter {
  rcode = -1;
  msg: Message | undefined;
  wire: Buffer | undefined;
  private wrote = false;

  constructor(protected readonly inner: ResponseWriter) {}

  get written(): boolean {
    return this.wrote;
  }
  get sentBytes(): number {
    return this.inner.sentBytes;
  }
  /** Size of the reply as sent (CoreDNS's {rsize}). */
  get size(): number {
    return this.inner.sentBytes;
  }
  writeMsg(reply: Message): void {
    this.wrote = true;
    this.rcode = reply.rcode;
    this.msg = reply;
    this.inner.writeMsg(reply);
  }
  writeWire(reply: Buffer): void {
    this.wrote = true;
    // rcode: low 4 bits of byte 3 (extended rcode bits live in OPT and are rare in wire replies we make)
    this.rcode = reply.length >= 4 ? (reply[3]! & 0x0f) : -1;
    this.wire = reply;
    this.inner.writeWire(reply);
  }
}
