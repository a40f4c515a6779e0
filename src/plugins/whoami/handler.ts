/**
 * whoami (CoreDNS plugin/whoami): the client's address in the additional section as A or AAAA,
 * and its port as SRV `_udp.`/`_tcp.` + the query name. Handy for tests and for checking which
 * address a client reaches us from.
 */
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { replyTo } from '../../dns/message.js';
import type { Handler } from '../../plugin/types.js';

export const whoamiHandler: Handler = {
  name: 'whoami',
  async serveDNS(req, w) {
    const m = replyTo(req.msg);
    m.aa = true;
    const name = req.qname;
    const ip = req.remoteAddress.startsWith('::ffff:') && req.remoteAddress.includes('.') ? req.remoteAddress.slice(7) : req.remoteAddress;
    const ttl = 0;
    if (ip.includes(':')) m.additionals.push({ name, class: RRClass.IN, ttl, type: RRType.AAAA, address: ip });
    else m.additionals.push({ name, class: RRClass.IN, ttl, type: RRType.A, address: ip });
    const srvName = `_${req.transport}.${name === '.' ? '' : name}`;
    m.additionals.push({ name: srvName, class: RRClass.IN, ttl, type: RRType.SRV, priority: 0, weight: 0, port: req.origin.remotePort, target: '.' });
    w.writeMsg(m);
    return Rcode.NOERROR;
  },
};
