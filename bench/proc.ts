/** Memory and CPU of a process tree, from /proc (Linux). */
import fs from 'node:fs';

export interface MemSample {
  /** Sum of VmRSS over the process and its descendants, MB. */
  rssMb: number;
  /** Sum of VmHWM (peak RSS of each process), MB. */
  hwmMb: number;
  processes: number;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** pid and every descendant (by the ppid field of /proc/N/stat). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

export function memory(root: number): MemSample {
  const pids = processTree(root);
  let rss = 0;
  let hwm = 0;
  for (const p of pids) {
    rss += statusKb(p, 'VmRSS');
    hwm += statusKb(p, 'VmHWM');
  }
  return { rssMb: rss / 1024, hwmMb: hwm / 1024, processes: pids.length };
}

/** CPU seconds (user + system) used so far by the tree. */
export function cpuSeconds(root: number): number {
  const tick = 100; // CLK_TCK on Linux
  let t = 0;
  for (const p of processTree(root)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      t += (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      /* gone */
    }
  }
  return t;
}

/** Samples the tree's RSS every intervalMs until stopped; the peak of the sums. */
export function sampleMemory(root: number, intervalMs = 250): { stop(): MemSample } {
  let peak: MemSample = memory(root);
  const timer = setInterval(() => {
    const m = memory(root);
    if (m.rssMb > peak.rssMb) peak = m;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const m = memory(root);
      return { rssMb: Math.max(peak.rssMb, m.rssMb), hwmMb: m.hwmMb, processes: m.processes };
    },
  };
}
