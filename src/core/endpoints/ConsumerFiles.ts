import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The private directory of the credential endpoints (mode 0700, made with mkdtemp) and the
 * files a registration needs there (mode 0600): the Google `external_account_authorized_user`
 * file and the AWS config files. None holds a token, only endpoint URLs and the consumer's own
 * endpoint secret. Files go with their registration; the directory goes on dispose.
 */
export class ConsumerFiles {
  private dir?: string;
  private disposed = false;

  constructor(private readonly root: string = os.tmpdir()) {}

  /** The directory, made on first use. */
  directory(): string {
    if (this.disposed) throw new Error('the credential files directory was removed');
    if (!this.dir) this.dir = mkdtempSync(path.join(this.root, 'mlspanner-endpoints-'));
    return this.dir;
  }

  /** Writes a new private file (never overwrites) and returns its path. */
  async write(name: string, content: string): Promise<string> {
    const file = path.join(this.directory(), name);
    await fs.writeFile(file, content, { encoding: 'utf8', mode: 0o600, flag: 'wx' });
    // The umask cannot widen 0600, but a pre-set ACL could: make the mode explicit.
    await fs.chmod(file, 0o600);
    return file;
  }

  /** Empties files in place (their paths stay valid for the processes that were given them). */
  async empty(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((f) => fs.truncate(f, 0).catch(() => undefined)));
  }

  /** Replaces the content of files in place (path → new content); a file already gone stays gone. */
  async overwrite(contents: ReadonlyMap<string, string>): Promise<void> {
    await Promise.all([...contents].map(([f, content]) => fs.writeFile(f, content, { encoding: 'utf8', flag: 'r+' }).then(() => fs.truncate(f, Buffer.byteLength(content))).catch(() => undefined)));
  }

  async remove(files: readonly string[]): Promise<void> {
    await Promise.all(files.map((f) => fs.rm(f, { force: true })));
  }

  /** Removes the directory and everything in it (synchronous: it runs on window close). */
  dispose(): void {
    this.disposed = true;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
