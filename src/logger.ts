/** The process logger (pino). Plugins get a child with `plugin` bound; CoreDNS-style text lives in `msg`. */
import { pino, destination, stdTimeFunctions, type Logger, type DestinationStream } from 'pino';

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.CLUSTERDNS_LOG_LEVEL ?? 'info';
  // Asynchronous, buffered stdout: the log plugin writes a line per query and a synchronous write
  // per line would put a syscall on the hot path. The buffer is flushed on exit (see cli.ts).
  const dest = opts.destination ?? destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino({ level, base: undefined, timestamp: stdTimeFunctions.isoTime }, dest);
  // Flush the buffer at least every second so a quiet server's errors reach `kubectl logs` promptly.
  if (!opts.destination) setInterval(() => logger.flush(), 1000).unref();
  return logger;
}
