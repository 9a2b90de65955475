/**
 * A second "window": appends `count` entries to one access log, one at a time.
 *     node --import tsx accessLogWorker.ts <file> <count> <tag> [anchor-store-file]
 */
import { AccessLog } from '../../../src/core/audit/AccessLog';
import { FileAnchorStore } from './FileAnchorStore';

const [file, count, tag, storeFile] = process.argv.slice(2);

async function main() {
  const log = new AccessLog(file, () => ({ actor: { subject: tag } }), Date.now, (e) => console.error(String(e)), {
    anchor: storeFile ? new FileAnchorStore(storeFile) : undefined,
  });
  for (let i = 1; i <= Number(count); i++) await log.append({ type: 'credentialIssued', outcome: 'success', detail: `${tag} ${i}` });
}

main().catch((e) => {
  console.error(String(e));
  process.exitCode = 1;
});
