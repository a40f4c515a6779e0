/** The parsed form of a Corefile: what the parser produces and what plugin setup reads. */

/** One line of a Corefile block: `name arg arg { children }`. Children are lines of a nested block. */
export interface Directive {
  name: string;
  args: string[];
  /** The lines of a `{ }` block after the directive, each parsed the same way; undefined when no block. */
  block: Directive[] | undefined;
  file: string;
  line: number;
}

/** A server address as written in a server block key: `dns://cluster.local:1053`. */
export interface ServerAddress {
  /** Absolute, lower-cased zone with trailing dot ("." for the root). Reverse CIDR keys are expanded to zones. */
  zone: string;
  /** Port as written, or undefined to use the default (-dns.port). */
  port: number | undefined;
  /** Only "dns" (UDP+TCP) is served. */
  scheme: 'dns';
}

export interface ServerBlock {
  /** The keys exactly as written ("cluster.local:1053"). */
  keys: string[];
  addresses: ServerAddress[];
  directives: Directive[];
  file: string;
  line: number;
}

export interface Corefile {
  file: string;
  blocks: ServerBlock[];
}
