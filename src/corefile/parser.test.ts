import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterDnsError, ConfigError, ErrorCodes } from '../errors.js';
import { expandEnv, loadCorefile, parseCorefile, type ParseOptions, type ParseWarning } from './parser.js';
import type { Directive, ServerAddress, ServerBlock } from './types.js';

const F = 'Corefile';

/** A directive of the file F at `line`. */
function D(line: number, name: string, args: string[] = [], block?: Directive[]): Directive {
  return { name, args, block, file: F, line };
}

function A(zone: string, port?: number): ServerAddress {
  return { zone, port, scheme: 'dns' };
}

function B(line: number, keys: string[], addresses: ServerAddress[], directives: Directive[]): ServerBlock {
  return { keys, addresses, directives, file: F, line };
}

function parse(text: string, opts: ParseOptions = {}): ServerBlock[] {
  return parseCorefile(text, F, { env: {}, ...opts }).blocks;
}

const KUBEADM = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`;

describe('parseCorefile: structure', () => {
  const cases: Array<{ name: string; input: string; env?: NodeJS.ProcessEnv; want: ServerBlock[] }> = [
    {
      name: 'the kubeadm Corefile',
      input: KUBEADM,
      want: [
        B(1, ['.:53'], [A('.', 53)], [
          D(2, 'errors'),
          D(3, 'health', [], [D(4, 'lameduck', ['5s'])]),
          D(6, 'ready'),
          D(7, 'kubernetes', ['cluster.local', 'in-addr.arpa', 'ip6.arpa'], [
            D(8, 'pods', ['insecure']),
            D(9, 'fallthrough', ['in-addr.arpa', 'ip6.arpa']),
            D(10, 'ttl', ['30']),
          ]),
          D(12, 'prometheus', [':9153']),
          D(13, 'forward', ['.', '/etc/resolv.conf'], [D(14, 'max_concurrent', ['1000'])]),
          D(16, 'cache', ['30'], [D(17, 'disable', ['success', 'cluster.local']), D(18, 'disable', ['denial', 'cluster.local'])]),
          D(20, 'loop'),
          D(21, 'reload'),
          D(22, 'loadbalance'),
        ]),
      ],
    },
    {
      name: 'several server blocks and stub domains',
      input: `cluster.local:53 {
    kubernetes
}
consul.local:53 {
    errors
    cache 30
    forward . 10.150.0.1
}
example.org:1053 {
    whoami
}`,
      want: [
        B(1, ['cluster.local:53'], [A('cluster.local.', 53)], [D(2, 'kubernetes')]),
        B(4, ['consul.local:53'], [A('consul.local.', 53)], [D(5, 'errors'), D(6, 'cache', ['30']), D(7, 'forward', ['.', '10.150.0.1'])]),
        B(9, ['example.org:1053'], [A('example.org.', 1053)], [D(10, 'whoami')]),
      ],
    },
    {
      name: 'keys: spaces, commas, a trailing comma continues on the next line, schemes and case',
      input: `Example.ORG dns://example.net:1053, example.com,
   in-addr.arpa,
   .:53 {
}`,
      want: [
        B(1, ['Example.ORG', 'dns://example.net:1053', 'example.com', 'in-addr.arpa', '.:53'], [
          A('example.org.'),
          A('example.net.', 1053),
          A('example.com.'),
          A('in-addr.arpa.'),
          A('.', 53),
        ], []),
      ],
    },
    {
      name: 'CIDR keys expand to reverse zones',
      input: '10.0.0.0/15:53 fd00::/64 {\n  whoami\n}',
      want: [
        B(1, ['10.0.0.0/15:53', 'fd00::/64'], [A('0.10.in-addr.arpa.', 53), A('1.10.in-addr.arpa.', 53), A('0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.')], [
          D(2, 'whoami'),
        ]),
      ],
    },
    {
      name: "the server block's '{' may be on the next line; empty blocks",
      input: 'a.org\n{\n}\nb.org { }\nc.org {\n}',
      want: [B(1, ['a.org'], [A('a.org.')], []), B(4, ['b.org'], [A('b.org.')], []), B(5, ['c.org'], [A('c.org.')], [])],
    },
    {
      name: 'comments everywhere',
      input: `# leading comment
.:53 { # after the brace
    # a whole line
    errors # trailing
    log#glued
    template "# not a comment"
} # after the close`,
      want: [B(2, ['.:53'], [A('.', 53)], [D(4, 'errors'), D(5, 'log'), D(6, 'template', ['# not a comment'])])],
    },
    {
      name: 'quotes: spaces, escaped quotes, empty arguments, backslashes, and lines after a multi-line string',
      input: `. {
    template IN A "example.org" {
        answer "{{ .Name }} 60 IN A \\"127.0.0.1\\""
    }
    rewrite name regex "(.*)\\.foo" "" 
    hosts "a
b" 
    whoami
}`,
      want: [
        B(1, ['.'], [A('.')], [
          D(2, 'template', ['IN', 'A', 'example.org'], [D(3, 'answer', ['{{ .Name }} 60 IN A "127.0.0.1"'])]),
          D(5, 'rewrite', ['name', 'regex', '(.*)\\.foo', '']),
          D(6, 'hosts', ['a\nb']),
          D(8, 'whoami'),
        ]),
      ],
    },
    {
      name: 'deeper nesting, and the first property on the line of the {',
      input: `. {
    outer a {
        inner b {
            leaf c
            empty {
            }
        }
        next
    }
    solo { first 1
        second 2 }
}`,
      want: [
        B(1, ['.'], [A('.')], [
          D(2, 'outer', ['a'], [D(3, 'inner', ['b'], [D(4, 'leaf', ['c']), D(5, 'empty', [], [])]), D(8, 'next')]),
          D(10, 'solo', [], [D(10, 'first', ['1']), D(11, 'second', ['2'])]),
        ]),
      ],
    },
    {
      name: 'a one-line property block (the } closes it)',
      input: '. {\n    health { lameduck 5s }\n    forward . 1.1.1.1 { }\n}',
      want: [B(1, ['.'], [A('.')], [D(2, 'health', [], [D(2, 'lameduck', ['5s'])]), D(3, 'forward', ['.', '1.1.1.1'], [])])],
    },
    {
      name: "';' is not a separator: the one-line cache form is one 'disable' with five arguments",
      input: '. {\n    cache 30 { disable success cluster.local; disable denial cluster.local }\n}',
      want: [
        B(1, ['.'], [A('.')], [
          D(2, 'cache', ['30'], [D(2, 'disable', ['success', 'cluster.local;', 'disable', 'denial', 'cluster.local'])]),
        ]),
      ],
    },
    {
      name: "a single server without braces takes every line (caddy's single-server form)",
      input: 'example.org:1053\nwhoami\nlog\nforward . 8.8.8.8 {\n  max_fails 2\n}',
      want: [
        B(1, ['example.org:1053'], [A('example.org.', 1053)], [
          D(2, 'whoami'),
          D(3, 'log'),
          D(4, 'forward', ['.', '8.8.8.8'], [D(5, 'max_fails', ['2'])]),
        ]),
      ],
    },
    {
      name: 'a file of keys only',
      input: 'example.org, example.net',
      want: [B(1, ['example.org', 'example.net'], [A('example.org.'), A('example.net.')], [])],
    },
    {
      name: "the last block may leave out its braces",
      input: '. {\n}\nexample.org\nwhoami',
      want: [B(1, ['.'], [A('.')], []), B(3, ['example.org'], [A('example.org.')], [D(4, 'whoami')])],
    },
    {
      name: 'the next block may start on the line of the }',
      input: 'a.org {\n  whoami\n} b.org {\n  log\n}',
      want: [B(1, ['a.org'], [A('a.org.')], [D(2, 'whoami')]), B(3, ['b.org'], [A('b.org.')], [D(4, 'log')])],
    },
    {
      name: 'environment: {$VAR} and {%VAR%} in keys, names and arguments; unset is empty; values stay one word',
      env: { ZONE: 'Cluster.Local', PORT: '1053', UP: '10.0.0.1 10.0.0.2', PLUGIN: 'forward' },
      input: `{$ZONE}:{%PORT%} {
    {$PLUGIN} . {$UP}
    cache {$UNSET}30
    log "prefix {$ZONE} suffix"
    kubernetes {
        ttl {%PORT%}
    }
}`,
      want: [
        {
          ...B(1, ['Cluster.Local:1053'], [A('cluster.local.', 1053)], [
            D(2, 'forward', ['.', '10.0.0.1 10.0.0.2']),
            D(3, 'cache', ['30']),
            D(4, 'log', ['prefix Cluster.Local suffix']),
            D(5, 'kubernetes', [], [D(6, 'ttl', ['1053'])]),
          ]),
        },
      ],
    },
    {
      name: 'snippets: defined once, imported in a server block and in a nested block',
      input: `(common) {
    errors
    cache 30
}
(opts) {
    max_fails 3
}
. {
    import common
    forward . 8.8.8.8 {
        import opts
        expire 10s
    }
}
example.org {
    import common
}`,
      want: [
        B(8, ['.'], [A('.')], [D(2, 'errors'), D(3, 'cache', ['30']), D(10, 'forward', ['.', '8.8.8.8'], [D(6, 'max_fails', ['3']), D(12, 'expire', ['10s'])])]),
        B(15, ['example.org'], [A('example.org.')], [D(2, 'errors'), D(3, 'cache', ['30'])]),
      ],
    },
    {
      name: "'import' is an argument when not at the start of a line in a nested block (as in caddy)",
      input: '(s) {\n  x\n}\n. {\n  file db { import s\n  }\n  basicauth / import pw\n}',
      want: [B(4, ['.'], [A('.')], [D(5, 'file', ['db'], [D(5, 'import', ['s'])]), D(7, 'basicauth', ['/', 'import', 'pw'])])],
    },
    { name: 'an empty file', input: '', want: [] },
    { name: 'comments only', input: '# nothing\n  # here\n', want: [] },
    {
      name: 'byte order mark and CRLF line ends',
      input: '\ufeff.:53 {\r\n    whoami\r\n}\r\n',
      want: [B(1, ['.:53'], [A('.', 53)], [D(2, 'whoami')])],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(parse(c.input, { env: c.env ?? {} }), c.want);
    });
  }

  it('names the file and reports whole Corefile', () => {
    const cf = parseCorefile('. {\n}', 'deploy/Corefile', { env: {} });
    assert.equal(cf.file, 'deploy/Corefile');
    assert.equal(cf.blocks[0]!.file, 'deploy/Corefile');
  });

  it('uses process.env by default', () => {
    process.env.CLUSTERDNS_PARSER_TEST_ZONE = 'from-env.org';
    try {
      const cf = parseCorefile('{$CLUSTERDNS_PARSER_TEST_ZONE} {\n}', F);
      assert.deepEqual(cf.blocks[0]!.addresses, [A('from-env.org.')]);
    } finally {
      delete process.env.CLUSTERDNS_PARSER_TEST_ZONE;
    }
  });

  it("warns about a word ending in ';'", () => {
    const warnings: ParseWarning[] = [];
    parse('. {\n    cache 30 { disable success cluster.local; disable denial cluster.local }\n}', { onWarning: (w) => warnings.push(w) });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.line, 2);
    assert.match(warnings[0]!.message, /'cluster\.local;': ';' is not a separator/);
  });
});

describe('parseCorefile: errors', () => {
  const cases: Array<{ name: string; input: string; want: string; opts?: ParseOptions }> = [
    { name: 'stray } at top level', input: '.:53 {\n    whoami\n}\n\nexample.org {\n}\n}', want: "Corefile:7 - unexpected '}': no block is open" },
    { name: '} first in the file', input: '}', want: "Corefile:1 - unexpected '}': no block is open" },
    {
      name: "a server block's } on a directive's line (caddy: Unexpected '}')",
      input: '.:53 {\n    whoami }',
      want: "Corefile:2 - unexpected '}' after 'whoami': the '}' that closes a server block must be on a line of its own",
    },
    {
      name: 'one-line server block',
      input: '.:53 { whoami }',
      want: "Corefile:1 - unexpected '}' after 'whoami': the '}' that closes a server block must be on a line of its own",
    },
    {
      name: '} in a block without braces',
      input: 'example.org\nwhoami\n}',
      want: "Corefile:3 - unexpected '}': the server block 'example.org' (line 1) was not opened with '{'",
    },
    {
      name: 'unclosed server block: the line where it opened',
      input: '# header\n.:53 {\n    errors\n    whoami\n',
      want: "Corefile:2 - unclosed '{': the server block '.:53' opened here has no matching '}'",
    },
    {
      name: 'unclosed nested block: the line where it opened',
      input: '.:53 {\n    errors\n    forward . 8.8.8.8 {\n        max_fails 3\n',
      want: "Corefile:3 - unclosed '{': the block of 'forward' opened here has no matching '}'",
    },
    {
      name: 'a missing } makes the next block look nested',
      input: '.:53 {\n    whoami\n\nexample.org {\n    log\n}\n',
      want: "Corefile:4 - 'example.org {' looks like a server block, but it is inside the server block '.:53' opened at line 1: is a '}' missing?",
    },
    {
      name: 'a block without braces followed by another block',
      input: '. {\n}\nexample.org\n    whoami\nexample.net {\n}\n',
      want: "Corefile:3 - expected '{' to open the server block 'example.org': only the last server block of a file may leave out its braces (line 5 starts another)",
    },
    {
      name: "a block's { on the next line of a directive",
      input: '. {\n    forward .\n    {\n    }\n}',
      want: "Corefile:3 - unexpected '{': a block must open on the line of its directive",
    },
    {
      name: 'a nested { with no property name',
      input: '. {\n    forward . {\n        {\n        }\n    }\n}',
      want: "Corefile:3 - unexpected '{': expected a property name before it",
    },
    {
      name: "something after a nested block's }",
      input: '. {\n    forward . {\n    } extra\n}',
      want: "Corefile:3 - unexpected 'extra' after the '}' closing the block of 'forward': start a new line",
    },
    { name: 'a { with no key', input: '{\n}', want: "Corefile:1 - unexpected '{': expected a server block key (such as '.:53') before it" },
    {
      name: 'trailing comma before {',
      input: 'example.org, {\n}',
      want: "Corefile:1 - expected another key after ',' but found '{' - check for an extra comma",
    },
    { name: 'trailing comma at the end of the file', input: 'example.org,', want: "Corefile:1 - unexpected end of file: expected another key after ','" },
    { name: 'empty key from an unset variable', input: '{$NOPE} {\n}', want: "Corefile:1 - server block key is empty ('{$NOPE}' expands to nothing: is an environment variable unset?)" },
    { name: 'bad port', input: '. {\n}\nexample.org:99999 {\n}', want: "Corefile:3 - invalid port '99999' in key 'example.org:99999': a port must be 1-65535" },
    { name: 'port 0', input: '.:0 {\n}', want: "Corefile:1 - invalid port '0' in key '.:0': a port must be 1-65535" },
    { name: 'no zone', input: ':53 {\n}', want: "Corefile:1 - key ':53' has no zone: use '.:53' for the root zone" },
    {
      name: 'unsupported scheme',
      input: 'tls://.:853 {\n}',
      want: "Corefile:1 - scheme 'tls://' in key 'tls://.:853' is not supported: clusterdns serves plain DNS (dns://, UDP and TCP) only",
    },
    { name: 'unknown scheme', input: '. {\n}\n\nfoo://example.org {\n}', want: "Corefile:4 - unknown scheme 'foo://' in key 'foo://example.org': only dns:// is supported" },
    { name: 'key with a glued brace', input: '.:53{\n}', want: "Corefile:1 - invalid key '.:53{': '{' and '}' are braces only as words of their own (write '.:53 {' with a space)" },
    { name: 'invalid CIDR', input: '10.0.0.0/40 {\n}', want: /^Corefile:1 - invalid CIDR '10\.0\.0\.0\/40'/.source },
    {
      name: 'duplicate zone and port across blocks (CoreDNS wording)',
      input: 'example.org:53 {\n    whoami\n}\n\nexample.org:53 {\n    log\n}',
      want: 'Corefile:5 - cannot serve dns://example.org.:53 - it is already defined at Corefile:1',
    },
    {
      name: 'duplicate after normalization: case and trailing dot',
      input: 'example.org {\n}\nEXAMPLE.org. {\n}',
      want: 'Corefile:3 - cannot serve dns://example.org.:53 - it is already defined at Corefile:1',
    },
    {
      name: 'duplicate: no port means the default port',
      input: '. {\n}\n.:53 {\n}',
      want: 'Corefile:3 - cannot serve dns://.:53 - it is already defined at Corefile:1',
    },
    {
      name: 'duplicate: a CIDR key and its reverse zone in one block',
      input: '10.0.0.0/8 10.in-addr.arpa {\n}',
      want: 'Corefile:1 - cannot serve dns://10.in-addr.arpa.:53 - it is already defined at Corefile:1',
    },
    {
      name: 'duplicate with -dns.port 1053',
      input: '. {\n}\n.:1053 {\n}',
      opts: { defaultPort: 1053 },
      want: 'Corefile:3 - cannot serve dns://.:1053 - it is already defined at Corefile:1',
    },
    {
      name: 'import with two arguments',
      input: '(s) {\n  x\n}\n. {\n    import s other\n}',
      want: "Corefile:5 - import takes one argument (a snippet name, a file or a glob pattern), found 'other' too",
    },
    {
      name: 'import with } on its line',
      input: '(s) {\n  x\n}\n. { import s }',
      want: "Corefile:4 - import takes one argument (a snippet name, a file or a glob pattern), found '}' too: put the closing '}' on a line of its own",
    },
    { name: 'import without argument', input: '. {\n    import\n}', want: 'Corefile:2 - import needs one argument: a snippet name, a file or a glob pattern' },
    { name: 'import of nothing', input: '. {\n    import does-not-exist.conf\n}', want: /^Corefile:2 - file to import not found: does-not-exist\.conf \(/.source },
    { name: 'import glob with two stars', input: '. {\n    import */*.conf\n}', want: "Corefile:2 - import glob pattern may only contain one '*' and one '?': */*.conf" },
    { name: 'snippet redeclared', input: '(s) {\n}\n(s) {\n}', want: 'Corefile:3 - snippet (s) is already defined at Corefile:1' },
    { name: 'snippet without {', input: '(s)\nwhoami', want: "Corefile:2 - expected '{' to open snippet (s), found 'whoami'" },
    { name: 'unclosed snippet', input: '(s) {\n  a {\n  }\n', want: "Corefile:1 - unclosed '{': snippet (s) opened here has no matching '}'" },
    { name: 'snippet importing itself', input: '(loop) {\n    import loop\n}\n. {\n    import loop\n}', want: 'Corefile:2 - import cycle: snippet (loop) imports snippet (loop)' },
    {
      name: 'snippets importing each other',
      input: '(a) {\n    import b\n}\n(b) {\n    import a\n}\n. {\n    import a\n}',
      want: 'Corefile:5 - import cycle: snippet (a) imports snippet (b) imports snippet (a)',
    },
    { name: 'unterminated quote', input: '. {\n    log "abc\n}\n', want: 'Corefile:2 - unterminated quoted string: expected a closing \'"\'' },
  ];

  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => parse(c.input, c.opts),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
          assert.equal(e.code, ErrorCodes.COREFILE_SYNTAX);
          if (c.want.startsWith('^')) assert.match(e.message, new RegExp(c.want));
          else assert.equal(e.message, c.want);
          return true;
        },
      );
    });
  }

  it('is not fooled by snippets used twice (no false cycle)', () => {
    const blocks = parse('(s) {\n  x\n}\n. {\n  import s\n  import s\n}');
    assert.deepEqual(
      blocks[0]!.directives.map((d) => d.name),
      ['x', 'x'],
    );
  });
});

describe('parseCorefile: imports', () => {
  let dir: string;
  const write = (rel: string, text: string): string => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-corefile-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('imports a file relative to the Corefile, with file and line of the imported file', () => {
    const common = write('a/common.conf', '# shared\nerrors\ncache 30 {\n    success 1000\n}\n');
    const corefile = write('a/Corefile', '. {\n    import common.conf\n    whoami\n}\n');
    const cf = loadCorefile(corefile, { env: {} });
    assert.deepEqual(cf.blocks[0]!.directives, [
      { name: 'errors', args: [], block: undefined, file: common, line: 2 },
      { name: 'cache', args: ['30'], block: [{ name: 'success', args: ['1000'], block: undefined, file: common, line: 4 }], file: common, line: 3 },
      { name: 'whoami', args: [], block: undefined, file: corefile, line: 3 },
    ]);
  });

  it('imports server blocks at the top level, and a glob in sorted order, each relative to its importer', () => {
    write('b/zones/20-b.conf', 'b.org {\n    import ../plugins/log.conf\n}\n');
    write('b/zones/10-a.conf', 'a.org {\n    whoami\n}\n');
    write('b/zones/notes.txt', 'not imported\n');
    write('b/plugins/log.conf', 'log\n');
    const corefile = write('b/Corefile', 'import zones/*.conf\n. {\n    forward . 8.8.8.8\n}\n');
    const cf = loadCorefile(corefile, { env: {} });
    assert.deepEqual(
      cf.blocks.map((b) => [b.keys[0], b.directives.map((d) => d.name), path.relative(dir, b.file), b.line]),
      [
        ['a.org', ['whoami'], 'b/zones/10-a.conf', 1],
        ['b.org', ['log'], 'b/zones/20-b.conf', 1],
        ['.', ['forward'], 'b/Corefile', 2],
      ],
    );
  });

  it('imports in a nested block, and snippets defined in an imported file', () => {
    write('c/snippets.conf', '(upstream) {\n    max_fails 5\n}\n');
    const corefile = write('c/Corefile', 'import snippets.conf\n. {\n    forward . 1.1.1.1 {\n        import upstream\n    }\n}\n');
    const cf = loadCorefile(corefile, { env: {} });
    const fwd = cf.blocks[0]!.directives[0]!;
    assert.equal(fwd.name, 'forward');
    assert.deepEqual(fwd.block!.map((d) => [d.name, d.args, path.basename(d.file), d.line]), [['max_fails', ['5'], 'snippets.conf', 2]]);
  });

  it('warns, but does not fail, when a glob matches nothing', () => {
    const corefile = write('d/Corefile', '. {\n    import extra/*.conf\n    whoami\n}\n');
    const warnings: ParseWarning[] = [];
    const cf = loadCorefile(corefile, { env: {}, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(cf.blocks[0]!.directives.map((d) => d.name), ['whoami']);
    assert.deepEqual(warnings, [{ file: corefile, line: 2, message: "no files match import pattern 'extra/*.conf'" }]);
  });

  it('detects an import cycle between files, at the import line', () => {
    write('e/one.conf', 'log\nimport two.conf\n');
    write('e/two.conf', 'import one.conf\n');
    const corefile = write('e/Corefile', '. {\n    import one.conf\n}\n');
    assert.throws(
      () => loadCorefile(corefile, { env: {} }),
      (e: unknown) => e instanceof ConfigError && e.message === `${path.join(dir, 'e/two.conf')}:1 - import cycle: one.conf imports two.conf imports one.conf`,
    );
  });

  it('detects a Corefile importing itself through a glob', () => {
    const corefile = write('f/Corefile', 'import *\n');
    assert.throws(
      () => loadCorefile(corefile, { env: {} }),
      (e: unknown) => e instanceof ConfigError && e.message === `${corefile}:1 - import cycle: Corefile imports Corefile`,
    );
  });

  it('reports a syntax error inside an imported file at that file and line', () => {
    const bad = write('g/bad.conf', 'ok\nforward . {\n');
    const corefile = write('g/Corefile', '. {\n    import bad.conf\n}\n');
    // caddy would let the Corefile's '}' close the imported block; the brace is missing in bad.conf.
    assert.throws(
      () => loadCorefile(corefile, { env: {} }),
      (e: unknown) => e instanceof ConfigError && e.message === `${bad}:2 - unclosed '{': the block of 'forward' opened here has no matching '}' in ${bad}`,
    );
  });

  it("refuses an imported '}' that would close the importer's block", () => {
    const closer = write('g/closer.conf', 'log\n}\n');
    const corefile = write('g/Corefile2', '. {\n    import closer.conf\n');
    assert.throws(
      () => loadCorefile(corefile, { env: {} }),
      (e: unknown) =>
        e instanceof ConfigError && e.message === `${closer}:2 - unexpected '}': it would close the server block '.' opened at ${corefile}:1, outside this imported file`,
    );
  });

  it('refuses to import a directory (COREFILE_IO)', () => {
    fs.mkdirSync(path.join(dir, 'h/sub.d'), { recursive: true });
    const corefile = write('h/Corefile', '. {\n    import sub.d\n}\n');
    assert.throws(
      () => loadCorefile(corefile, { env: {} }),
      (e: unknown) => e instanceof ConfigError && e.code === ErrorCodes.COREFILE_IO && e.line === 2 && /could not import .*sub\.d: it is a directory/.test(e.message),
    );
  });

  it('uses injected readFile and glob', () => {
    const files: Record<string, string> = { '/etc/coredns/custom/a.override': 'log\n', '/etc/coredns/custom/b.override': 'whoami\n' };
    const globs: string[] = [];
    const cf = parseCorefile('. {\n    import custom/*.override\n}', '/etc/coredns/Corefile', {
      env: {},
      glob: (p) => {
        globs.push(p);
        return Object.keys(files).sort();
      },
      readFile: (p) => {
        const text = files[p];
        if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
        return text;
      },
    });
    assert.deepEqual(globs, ['/etc/coredns/custom/*.override']);
    assert.deepEqual(cf.blocks[0]!.directives.map((d) => [d.name, d.file]), [
      ['log', '/etc/coredns/custom/a.override'],
      ['whoami', '/etc/coredns/custom/b.override'],
    ]);
  });

  it('loadCorefile: a missing file is COREFILE_IO naming the file', () => {
    const missing = path.join(dir, 'nope', 'Corefile');
    assert.throws(
      () => loadCorefile(missing),
      (e: unknown) => e instanceof ClusterDnsError && e.code === ErrorCodes.COREFILE_IO && e.message === `${missing}: cannot read the Corefile (ENOENT)`,
    );
  });
});

describe('expandEnv', () => {
  const env = { PORT: '8080', ADDRESS: 'servername.com', FOOBAR: 'foobar', PARTIAL_DIR: 'r1', LOOP: '{$LOOP}' };
  const cases: Array<[string, string]> = [
    ['{$ADDRESS}', 'servername.com'],
    ['di{$PARTIAL_DIR}', 'dir1'],
    ['{$ADDRESS}:{$PORT}', 'servername.com:8080'],
    ['{%ADDRESS%}:{$PORT}', 'servername.com:8080'],
    ['{$ADDRESS}:{%PORT%}', 'servername.com:8080'],
    ['{%ADDRESS%}/{%FOOBAR%}', 'servername.com/foobar'],
    ['{%ADDRESS}', '{%ADDRESS}'], // malformed: left alone
    [':{$PORT$}', ':'], // the variable "PORT$" is unset
    ['Test {$FOOBAR} test', 'Test foobar test'],
    ['{{ .Name }} {$FOOBAR}', '{{ .Name }} foobar'],
    ['{$}{$PORT}', '{$}{$PORT}'], // caddy stops at an empty name
    ['{$LOOP}', '{$LOOP}'], // values are not expanded again
    ['{$UNSET}x', 'x'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(expandEnv(input, env), want));
  }
});
