/**
 * Drives dnsperf (2.10) and reads its figures. Two modes:
 *   throughput: closed loop, `-q` queries outstanding, as fast as the server answers: qps, lost,
 *               dnsperf's own mean latency.
 *   latency:    open loop at a fixed rate (`-Q`) with `-v`, which prints one line per reply
 *               ("> NOERROR name A 0.000123"): mean, p50, p99, p99.9 computed from every reply.
 *               dnsperf 2.10 has no percentile option; -v costs it CPU, which is why the two
 *               modes are separate runs.
 */
import { spawn } from 'node:child_process';

export const DNSPERF = '/usr/bin/dnsperf';

export interface DnsperfOptions {
  port: number;
  queryFile: string;
  seconds: number;
  clients: number;
  threads: number;
  /** Outstanding queries (-q). */
  outstanding: number;
  /** Rate limit (-Q); 0 for none. */
  maxQps?: number;
  /** Per-query timeout, seconds (-t): a reply later than this counts as lost. */
  timeout?: number;
  verbose?: boolean;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  lostPct: number;
  qps: number;
  runSeconds: number;
  /** dnsperf's mean latency, ms. */
  meanMs: number;
  maxMs: number;
  rcodes: Record<string, number>;
  /** From -v lines (latency mode only). */
  percentiles?: { p50: number; p90: number; p99: number; p999: number; mean: number; samples: number };
  args: string[];
}

export function dnsperfArgs(o: DnsperfOptions): string[] {
  const a = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), '-c', String(o.clients), '-T', String(o.threads), '-q', String(o.outstanding), '-t', String(o.timeout ?? 2)];
  if (o.maxQps) a.push('-Q', String(o.maxQps));
  if (o.verbose) a.push('-v');
  return a;
}

export async function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  const args = dnsperfArgs(o);
  const proc = spawn(DNSPERF, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let summary = '';
  let stderr = '';
  let partial = '';
  // Latencies in microseconds, bucketed (1 µs resolution to 100 ms, then one overflow bucket): exact
  // enough for percentiles and constant memory whatever the number of replies.
  const hist = new Uint32Array(100_001);
  let samples = 0;
  let sumUs = 0;
  proc.stdout!.on('data', (d: Buffer) => {
    const text = partial + d.toString('latin1');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('> ')) {
        if (!o.verbose) continue;
        // "> NOERROR name TYPE 0.000123"; lost queries are "> T name TYPE"
        const sp = line.lastIndexOf(' ');
        const v = Number(line.slice(sp + 1));
        if (line.startsWith('> T ') || !Number.isFinite(v)) continue;
        const us = Math.round(v * 1e6);
        hist[Math.min(us, hist.length - 1)]!++;
        samples++;
        sumUs += us;
      } else {
        summary += line + '\n';
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  summary += partial;
  if (code !== 0) throw new Error(`dnsperf ${args.join(' ')} exited ${code}:\n${stderr}\n${summary}`);
  const num = (re: RegExp): number => {
    const m = re.exec(summary);
    if (!m) throw new Error(`dnsperf output lacks ${re}:\n${summary}`);
    return Number(m[1]);
  };
  const rcodes: Record<string, number> = {};
  const rc = /Response codes:\s*(.*)/.exec(summary)?.[1] ?? '';
  for (const m of rc.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  const r: DnsperfResult = {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    lostPct: 0,
    qps: num(/Queries per second:\s+([\d.]+)/),
    runSeconds: num(/Run time \(s\):\s+([\d.]+)/),
    meanMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    maxMs: num(/Average Latency \(s\):.*max ([\d.]+)/) * 1000,
    rcodes,
    args,
  };
  r.lostPct = r.sent > 0 ? (100 * r.lost) / r.sent : 0;
  if (o.verbose && samples > 0) {
    const at = (q: number): number => {
      const want = Math.ceil(q * samples);
      let seen = 0;
      for (let i = 0; i < hist.length; i++) {
        seen += hist[i]!;
        if (seen >= want) return i / 1000;
      }
      return (hist.length - 1) / 1000;
    };
    r.percentiles = { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), mean: sumUs / samples / 1000, samples };
  }
  return r;
}
