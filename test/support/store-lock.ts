// Starts and ends a real second process holding BEGIN EXCLUSIVE on a store (store-locker.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOCKER = fileURLToPath(new URL('./store-locker.js', import.meta.url));

export interface HeldLock {
  pid: number;
  /** Ends the locker (SIGTERM to its pid) and waits for it to exit. */
  release(): Promise<void>;
}

export function holdStoreLock(dbPath: string): Promise<HeldLock> {
  const child = spawn(process.execPath, [LOCKER, dbPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the locker did not take the lock within 10 s'));
    }, 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('locked')) return;
      clearTimeout(timer);
      resolve({
        pid: child.pid ?? -1,
        release: async () => {
          if (child.exitCode === null) process.kill(child.pid ?? -1, 'SIGTERM');
          await exited;
        },
      });
    });
    child.once('error', reject);
  });
}
