/**
 * The CNAME that lets a client accept an answer for another name than it asked (CoreDNS's
 * autopath cnamer): the asked name points at the owner of the first answer record, with that
 * record's TTL, and the question is the asked one again.
 *
 * CoreDNS points at the first record whose owner is not the asked name; when the name was found
 * as asked and its answer starts with a CNAME (an ExternalName Service), that adds a second CNAME
 * for the asked name to the target. Here a reply whose first record is owned by the asked name
 * gets no CNAME: it already answers the question.
 */
import { RRClass, RRType } from '../../dns/constants.js';
import type { Message, Question } from '../../dns/message.js';
import { asciiLower } from '../../dns/names.js';

/** A copy of `reply` as the answer to `asked`; records are shared, not copied. */
export function cnamer(reply: Message, asked: Question): Message {
  const first = reply.answers[0];
  const answers = first && asciiLower(first.name) !== asciiLower(asked.name)
    ? [{ name: asked.name, class: RRClass.IN, ttl: first.ttl, type: RRType.CNAME, target: first.name }, ...reply.answers]
    : reply.answers;
  return { ...reply, questions: [{ ...asked }], answers };
}
