/**
 * The base of writers that change replies on their way out (loadbalance, minimal, nsid): a reply
 * written as a Message is transformed and passed on; a pre-encoded wire reply is passed on as is
 * when a header peek shows nothing can change (the common case keeps its zero-copy path), else it
 * is decoded, transformed and written as a Message. A wire reply that does not decode is not ours
 * to fix and goes on untouched.
 */
import { decodeMessage } from '../dns/decode.js';
import type { Message } from '../dns/message.js';
import type { ResponseWriter } from './response-writer.js';

export abstract class TransformingWriter implements ResponseWriter {
  private wrote = false;

  constructor(protected readonly inner: ResponseWriter) {}

  get written(): boolean {
    return this.wrote || this.inner.written;
  }
  get sentBytes(): number {
    return this.inner.sentBytes;
  }

  /** The reply to send instead of `reply` (may return it unchanged; must not mutate records it does not own). */
  protected abstract transform(reply: Message): Message;

  /** Whether a wire reply (≥ 12 bytes) might change; false sends it untouched without decoding. */
  protected mayChange(_wire: Buffer): boolean {
    return true;
  }

  writeMsg(reply: Message): void {
    this.wrote = true;
    this.inner.writeMsg(this.transform(reply));
  }

  writeWire(reply: Buffer): void {
    this.wrote = true;
    if (reply.length < 12 || !this.mayChange(reply)) {
      this.inner.writeWire(reply);
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(reply);
    } catch {
      this.inner.writeWire(reply);
      return;
    }
    this.inner.writeMsg(this.transform(m));
  }
}
