/**
 * The writer at the bottom of every chain: it makes the reply fit the request (OPT present exactly
 * when the query had one, size within what the client accepts, TC when cut) and hands the bytes
 * to the transport. This is the only place that worries about sizes (CoreDNS's request.Scrub).
 */
import { decodeMessage } from '../dns/decode.js';
import { encodeTruncated } from '../dns/encode.js';
import type { Message } from '../dns/message.js';
import type { Request } from './request.js';
import type { ResponseWriter } from './response-writer.js';

export type SendFn = (reply: Buffer) => void;

/** The UDP payload size we advertise in our OPT. */
export const ADVERTISED_UDP_SIZE = 1232;

export class BaseWriter implements ResponseWriter {
  private wrote = false;
  /** The bytes that went out (the log plugin's {rsize}, the response size metric). */
  sentBytes = 0;

  constructor(private readonly req: Request, private readonly send: SendFn) {}

  get written(): boolean {
    return this.wrote;
  }

  writeMsg(reply: Message): void {
    if (this.wrote) return; // one reply per query: a second write is a plugin bug, dropping it keeps the stream sane
    this.wrote = true;
    const req = this.req;
    reply.id = req.id;
    reply.qr = true;
    if (req.msg.edns) {
      const e = reply.edns;
      reply.edns = { udpSize: ADVERTISED_UDP_SIZE, version: 0, do: req.msg.edns.do, options: e?.options ?? [] };
    } else if (reply.edns) {
      delete reply.edns;
    }
    const out = encodeTruncated(reply, req.maxSize);
    this.sentBytes = out.length;
    this.send(out);
  }

  writeWire(reply: Buffer): void {
    if (this.wrote) return;
    if (reply.length <= this.req.maxSize) {
      this.wrote = true;
      this.sentBytes = reply.length;
      this.send(reply);
      return;
    }
    // Rare: a pre-encoded answer too big for this client. Re-encode through the truncating path.
    this.writeMsg(decodeMessage(reply));
  }
}
