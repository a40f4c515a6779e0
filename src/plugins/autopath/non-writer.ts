/**
 * A ResponseWriter that sends nothing and keeps the reply (CoreDNS's pkg/nonwriter): autopath runs
 * the rest of the chain once per search domain and picks which reply, if any, the client gets.
 * Replies written as pre-encoded wire bytes (kubernetes, cache, forward) are decoded on demand.
 */
import { decodeMessage } from '../../dns/decode.js';
import type { Message } from '../../dns/message.js';
import type { ResponseWriter } from '../../server/response-writer.js';

export class NonWriter implements ResponseWriter {
  private msg: Message | undefined;
  private wire: Buffer | undefined;

  get written(): boolean {
    return this.msg !== undefined || this.wire !== undefined;
  }
  get sentBytes(): number {
    return 0;
  }
  writeMsg(reply: Message): void {
    this.msg = reply;
    this.wire = undefined;
  }
  writeWire(reply: Buffer): void {
    this.wire = reply;
    this.msg = undefined;
  }
  /** The kept reply, decoded if it was written as wire bytes. */
  reply(): Message | undefined {
    if (!this.msg && this.wire) this.msg = decodeMessage(this.wire);
    return this.msg;
  }
}
