import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRR, rrToString } from '../../dns/presentation.js';
import { ConfigError, ErrorCodes } from '../../errors.js';
import { parseZone, parseZoneFile } from './zone-parser.js';

const SOA = '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300';

function records(text: string, origin = 'example.org.', files: Record<string, string> = {}): string[] {
  const readFile = (f: string): string => {
    const content = files[f];
    if (content === undefined) throw new Error(`ENOENT: ${f}`);
    return content;
  };
  return parseZoneFile(text, { origin, file: '/zones/db.example.org', readFile }).records.map((r) => rrToString(r.rr));
}

function norm(rrs: string[]): string[] {
  return rrs.map((s) => rrToString(parseRR(s)));
}

/** Parses and validates; returns the ConfigError or fails. */
function zoneError(text: string, origin = 'example.org.'): ConfigError {
  try {
    parseZone(text, { origin, file: 'db.example.org' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, ErrorCodes.ZONEFILE_SYNTAX);
    return err;
  }
  assert.fail('expected the zone to be rejected');
}

describe('zone file syntax', () => {
  const accepted: { name: string; text: string; want: string[]; origin?: string }[] = [
    {
      name: '$ORIGIN, $TTL, @, relative and absolute names',
      text: '$ORIGIN example.org.\n$TTL 60\n@ IN A 192.0.2.1\nwww IN A 192.0.2.2\nmail.example.org. IN A 192.0.2.3\n',
      want: ['example.org. 60 IN A 192.0.2.1', 'www.example.org. 60 IN A 192.0.2.2', 'mail.example.org. 60 IN A 192.0.2.3'],
    },
    {
      name: 'the zone origin without $ORIGIN, and $ORIGIN relative to the current origin',
      text: '$TTL 60\nwww A 192.0.2.2\n$ORIGIN sub\nhost A 192.0.2.4\n',
      want: ['www.example.org. 60 IN A 192.0.2.2', 'host.sub.example.org. 60 IN A 192.0.2.4'],
    },
    {
      name: 'a blank owner is the previous owner',
      text: '$TTL 60\nwww IN A 192.0.2.2\n    IN AAAA 2001:db8::2\n\tIN TXT "x"\n',
      want: ['www.example.org. 60 IN A 192.0.2.2', 'www.example.org. 60 IN AAAA 2001:db8::2', 'www.example.org. 60 IN TXT "x"'],
    },
    {
      name: 'TTL and class in either order, both optional',
      text: '$TTL 60\na 30 IN A 192.0.2.1\nb IN 31 A 192.0.2.2\nc 32 A 192.0.2.3\nd IN A 192.0.2.4\ne A 192.0.2.5\n',
      want: ['a.example.org. 30 IN A 192.0.2.1', 'b.example.org. 31 IN A 192.0.2.2', 'c.example.org. 32 IN A 192.0.2.3', 'd.example.org. 60 IN A 192.0.2.4', 'e.example.org. 60 IN A 192.0.2.5'],
    },
    {
      name: 'without $TTL the last explicit TTL carries over; with $TTL it does not',
      text: 'a 120 A 192.0.2.1\nb A 192.0.2.2\n$TTL 60\nc 30 A 192.0.2.3\nd A 192.0.2.4\n',
      want: ['a.example.org. 120 IN A 192.0.2.1', 'b.example.org. 120 IN A 192.0.2.2', 'c.example.org. 30 IN A 192.0.2.3', 'd.example.org. 60 IN A 192.0.2.4'],
    },
    {
      name: 'TTL units',
      text: 'a 1h30m A 192.0.2.1\nb 2D A 192.0.2.2\nc 1w A 192.0.2.3\n',
      want: ['a.example.org. 5400 IN A 192.0.2.1', 'b.example.org. 172800 IN A 192.0.2.2', 'c.example.org. 604800 IN A 192.0.2.3'],
    },
    {
      name: 'parentheses across lines with comments inside',
      text: '$TTL 60\n@ IN SOA ns1 hostmaster ( ; comment\n  2024 ; serial\n  7200\n  3600 1209600\n  300 )\n',
      want: ['example.org. 60 IN SOA ns1.example.org. hostmaster.example.org. 2024 7200 3600 1209600 300'],
    },
    {
      name: 'quoted strings keep spaces, semicolons and parentheses; comments after them are dropped',
      text: '$TTL 60\nt IN TXT "a b; c (d)" "e" ; trailing comment\n',
      want: ['t.example.org. 60 IN TXT "a b; c (d)" "e"'],
    },
    {
      name: 'MX, SRV, NS, CNAME, PTR, CAA with relative targets',
      text: '$TTL 60\n@ MX 10 mail\n_s._tcp SRV 1 2 3 host\n@ NS ns1\nc CNAME www\np PTR www\n@ CAA 0 issue "letsencrypt.org"\n',
      want: [
        'example.org. 60 IN MX 10 mail.example.org.',
        '_s._tcp.example.org. 60 IN SRV 1 2 3 host.example.org.',
        'example.org. 60 IN NS ns1.example.org.',
        'c.example.org. 60 IN CNAME www.example.org.',
        'p.example.org. 60 IN PTR www.example.org.',
        'example.org. 60 IN CAA 0 issue "letsencrypt.org"',
      ],
    },
    {
      name: 'names in the root zone',
      origin: '.',
      text: '$TTL 60\nwww.example. A 192.0.2.1\nhost A 192.0.2.2\n',
      want: ['www.example. 60 IN A 192.0.2.1', 'host. 60 IN A 192.0.2.2'],
    },
  ];
  for (const c of accepted) {
    it(c.name, () => {
      assert.deepEqual(records(c.text, c.origin), norm(c.want));
    });
  }

  it('$INCLUDE reads a file relative to the including file, with an optional origin, keeping $TTL', () => {
    const got = records('$TTL 60\n$INCLUDE inc/hosts.db\n$INCLUDE /abs/other.db sub.example.org.\nafter A 192.0.2.9\n', 'example.org.', {
      '/zones/inc/hosts.db': 'www A 192.0.2.1\n$INCLUDE nested.db\n',
      '/zones/inc/nested.db': 'deep A 192.0.2.2\n',
      '/abs/other.db': 'host A 192.0.2.3\n',
    });
    assert.deepEqual(got, norm(['www.example.org. 60 IN A 192.0.2.1', 'deep.example.org. 60 IN A 192.0.2.2', 'host.sub.example.org. 60 IN A 192.0.2.3', 'after.example.org. 60 IN A 192.0.2.9']));
    const parsed = parseZoneFile('$INCLUDE a.db\n', { origin: 'example.org.', file: '/z/db', readFile: () => '$TTL 5\nx A 192.0.2.1\n' });
    assert.deepEqual(parsed.included, ['/z/a.db']);
  });

  it('reports errors inside an $INCLUDEd file at that file and line', () => {
    try {
      records('$TTL 60\n$INCLUDE bad.db\n', 'example.org.', { '/zones/bad.db': 'ok A 192.0.2.1\nbad A 999.1.1.1\n' });
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.file, '/zones/bad.db');
      assert.equal(err.line, 2);
    }
  });

  it('stops $INCLUDE loops', () => {
    assert.throws(() => records('$TTL 60\n$INCLUDE self.db\n', 'example.org.', { '/zones/self.db': '$INCLUDE self.db\n' }), /nested more than 7 deep/);
  });
});

describe('zone file errors name the file, the line and what was expected', () => {
  const rejected: { name: string; text: string; line: number; match: RegExp }[] = [
    { name: 'unknown type', text: `$TTL 60\n${SOA}\nwww IN BOGUS 1\n`, line: 3, match: /expected .*a record type, got 'BOGUS'/ },
    { name: 'bad RDATA', text: `$TTL 60\n${SOA}\n\nwww IN A 300.1.1.1\n`, line: 4, match: /bad A record for www\.example\.org\./ },
    { name: 'missing RDATA', text: `$TTL 60\n${SOA}\nwww IN A\n`, line: 3, match: /expected RDATA/ },
    { name: 'a TTL that is not one', text: `$TTL 60\n${SOA}\nwww 5x IN A 192.0.2.1\n`, line: 3, match: /expected a TTL \(seconds.*got '5x'/ },
    { name: 'no TTL anywhere', text: `${SOA}\n`, line: 1, match: /no TTL/ },
    { name: 'blank owner first', text: `$TTL 60\n  IN A 192.0.2.1\n${SOA}\n`, line: 2, match: /without an owner name/ },
    { name: 'unbalanced parenthesis', text: `$TTL 60\n@ IN SOA ns1 hostmaster (1 2\n3 4 5\n`, line: 2, match: /unbalanced '\('/ },
    { name: 'closing parenthesis alone', text: `$TTL 60\n${SOA}\nwww IN A 192.0.2.1 )\n`, line: 3, match: /'\)' without/ },
    { name: 'unterminated quote', text: `$TTL 60\n${SOA}\nt IN TXT "abc\n`, line: 3, match: /unterminated quoted string/ },
    { name: '$GENERATE', text: `$TTL 60\n${SOA}\n$GENERATE 1-5 host$ A 192.0.2.$\n`, line: 3, match: /\$GENERATE is not supported/ },
    { name: 'unknown directive', text: `$TTL 60\n$FOO bar\n`, line: 2, match: /unknown directive '\$FOO'/ },
    { name: 'bad $TTL', text: `$TTL forever\n`, line: 1, match: /expected a TTL \(seconds/ },
    { name: '$INCLUDE without a reader', text: `$TTL 60\n$INCLUDE x.db\n`, line: 2, match: /\$INCLUDE is not allowed/ },
    { name: 'record outside the origin', text: `$TTL 60\n${SOA}\nwww.example.com. IN A 192.0.2.1\n`, line: 3, match: /outside the zone example\.org\./ },
    { name: '$ORIGIN outside the zone', text: `$TTL 60\n${SOA}\n$ORIGIN example.net.\nwww IN A 192.0.2.1\n`, line: 4, match: /www\.example\.net\. is outside the zone/ },
    { name: 'no SOA', text: `$TTL 60\nwww IN A 192.0.2.1\n\n`, line: 3, match: /no SOA record for example\.org\./ },
    { name: 'second SOA', text: `$TTL 60\n${SOA}\n${SOA}\n`, line: 3, match: /second SOA .*line 2/ },
    { name: 'SOA below the apex', text: `$TTL 60\n${SOA}\nsub IN SOA ns1 h 1 2 3 4 5\n`, line: 3, match: /not at the zone apex/ },
    { name: 'CNAME after other data', text: `$TTL 60\n${SOA}\nwww IN A 192.0.2.1\nwww IN CNAME other\n`, line: 4, match: /CNAME and other data \(A\)/ },
    { name: 'other data after a CNAME', text: `$TTL 60\n${SOA}\nwww IN CNAME other\n    IN MX 10 mail\n`, line: 4, match: /CNAME and other data \(MX\)/ },
    { name: 'CNAME at the apex', text: `$TTL 60\n${SOA}\n@ IN CNAME other.example.net.\n`, line: 3, match: /CNAME and other data \(SOA\)/ },
    { name: 'two CNAMEs', text: `$TTL 60\n${SOA}\nwww IN CNAME a\nwww IN CNAME b\n`, line: 4, match: /more than one CNAME/ },
    { name: 'class CH', text: `$TTL 60\n${SOA}\nwww CH TXT "x"\n`, line: 3, match: /class CH is not supported: expected IN/ },
    { name: 'NSEC3', text: `$TTL 60\n${SOA}\nabc IN TYPE50 \\# 1 00\n`, line: 3, match: /NSEC3 zones are not supported/ },
  ];
  for (const c of rejected) {
    it(c.name, () => {
      const e = zoneError(c.text);
      assert.equal(e.line, c.line, e.message);
      assert.match(e.message, c.match);
      assert.match(e.message, new RegExp(`^db\\.example\\.org:${c.line} - plugin/file: `));
    });
  }

  it('accepts RRSIG and NSEC beside a CNAME, and drops exact duplicates', () => {
    const { zone } = parseZone(`$TTL 60\n${SOA}\nwww IN CNAME other\n    IN TYPE46 \\# 2 0005\n    IN TYPE47 \\# 1 00\ndup A 192.0.2.1\ndup A 192.0.2.1\ndup A 192.0.2.2\n`, { origin: 'example.org.', file: 'db' });
    assert.equal(zone.size, 3);
  });

  it('stores escaped owner names in the decoder\'s spelling (\\046 is \\.)', async () => {
    const { zone } = parseZone(`$TTL 60\n${SOA}\nhas\\046dot IN A 192.0.2.1\n`, { origin: 'example.org.', file: 'db' });
    const r = await zone.lookup('has\\.dot.example.org.', 1);
    assert.equal(r.answer.length, 1);
  });
});
