import * as os from 'node:os';
import type { Row } from '../lib/table';

/** The machine the numbers come from, and how busy it was when the run started. */
export function machineRows(): Row[] {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2));
  return [
    { area: 'machine', measure: 'CPU', value: `${cpus[0]?.model.trim() ?? 'unknown'}, ${os.availableParallelism()} cores` },
    { area: 'machine', measure: 'Node, OS', value: `${process.version}, ${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB RAM` },
    { area: 'machine', measure: 'load average at start (1, 5, 15 min)', value: load.join(', ') },
  ];
}
