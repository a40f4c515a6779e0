/** Test support: a ResponseWriter that keeps what a handler wrote, for handler unit tests; whether the native addon is there. */
import { nativeAddon } from './udp-batch.js';
import type { Message } from '../dns/message.js';
import type { ResponseWriter } from './response-writer.js';

export class CapturingWriter implements ResponseWriter {
  /** The last reply written as a Message, and every one in order. */
  msg: Message | undefined;
  readonly msgs: Message[] = [];
  /** The last reply written as wire bytes. */
  wire: Buffer | undefined;
  writes = 0;

  get written(): boolean {
    return this.writes > 0;
  }
  get sentBytes(): number {
    return 0;
  }
  writeMsg(m: Message): void {
    this.writes++;
    this.msg = m;
    this.msgs.push(m);
  }
  writeWire(b: Buffer): void {
    this.writes++;
    this.wire = b;
  }
}

/**
 * A test's skip reason when the native addon is not built: never on CI (CI=true), where it must be
 * built and such a test fails instead.
 */
export function skipWithoutAddon(): string | false {
  return !nativeAddon().ok && process.env.CI !== 'true' ? 'native addon not built' : false;
}
