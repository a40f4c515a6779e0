/** Records every query that passes (CoreDNS's metrics.ServeDNS + vars.Report). */
import { Rcode, rcodeToString, typeToString, RRType } from '../../dns/constants.js';
import { NO_REPLY, nextOrFailure, isClientWrite } from '../../plugin/chain.js';
import type { HandlerFactory } from '../../plugin/types.js';
import { ResponseRecorder } from '../../server/response-writer.js';
import { requestDuration, requestSize, requestsTotal, responseSize, responsesTotal } from './metrics.js';

/** CoreDNS only labels common types by name; others are "other" to bound cardinality. */
const namedTypes = new Set<number>([RRType.A, RRType.AAAA, RRType.CNAME, RRType.MX, RRType.NS, RRType.PTR, RRType.SOA, RRType.SRV, RRType.TXT, RRType.DS, RRType.DNSKEY, RRType.NSEC, RRType.NSEC3, RRType.HINFO, RRType.NAPTR, RRType.IXFR, RRType.AXFR, RRType.ANY, RRType.CAA, RRType.HTTPS, RRType.SVCB, RRType.OPT]);

export function metricsHandler(server: string): HandlerFactory {
  return (next) => ({
    name: 'prometheus',
    async serveDNS(req, w) {
      const start = process.hrtime.bigint();
      const rec = new ResponseRecorder(w);
      const rcode = await nextOrFailure('prometheus', next, req, rec);
      const zone = req.zone;
      const type = namedTypes.has(req.qtype) ? typeToString(req.qtype) : 'other';
      const proto = req.transport;
      requestsTotal.inc({ server, zone, view: '', proto, family: String(req.family), type });
      requestDuration.observe({ server, zone, view: '', type }, Number(process.hrtime.bigint() - start) / 1e9);
      requestSize.observe({ server, zone, view: '', proto }, req.wire?.length ?? 0);
      // Replies the dispatcher writes after we return (SERVFAIL, REFUSED...) are counted with their rcode and no plugin.
      const written = rec.written;
      // A dropped query (acl drop: NO_REPLY) counts as NOERROR, as in CoreDNS where the recorder's rcode stays 0.
      const rc = written ? rec.rcode : rcode === NO_REPLY ? Rcode.NOERROR : isClientWrite(rcode) ? Rcode.SERVFAIL : rcode;
      responsesTotal.inc({ server, zone, view: '', rcode: rcodeToString(rc), plugin: written ? (req.writtenBy ?? '') : '' });
      if (written) responseSize.observe({ server, zone, view: '', proto }, rec.sentBytes);
      return rcode;
    },
  });
}
