/**
 * The error catalogue: every error clusterdns reports to a user has a code here.
 * A test checks that every code is documented in the README.
 */

export const ErrorCodes = {
  COREFILE_SYNTAX: 'CDNS_COREFILE_SYNTAX',
  COREFILE_PLUGIN: 'CDNS_COREFILE_PLUGIN',
  COREFILE_IO: 'CDNS_COREFILE_IO',
  ZONEFILE_SYNTAX: 'CDNS_ZONEFILE_SYNTAX',
  SNAPSHOT_INVALID: 'CDNS_SNAPSHOT_INVALID',
  BIND_FAILED: 'CDNS_BIND_FAILED',
  LOOP_DETECTED: 'CDNS_LOOP_DETECTED',
  KUBE_CONFIG: 'CDNS_KUBE_CONFIG',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class ClusterDnsError extends Error {
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterDnsError';
  }
}

/** A configuration error that points at a place in a file: "Corefile:12 - plugin/kubernetes: unknown property 'foo'". */
export class ConfigError extends ClusterDnsError {
  constructor(code: ErrorCode, readonly file: string, readonly line: number, readonly detail: string) {
    super(code, `${file}:${line} - ${detail}`);
    this.name = 'ConfigError';
  }
}
