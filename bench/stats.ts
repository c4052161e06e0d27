// Small statistics shared by the benchmarks. Pure; importing this runs nothing.

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** The q-quantile (0..1) by nearest rank: p99 of 200 samples is the 198th smallest. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

export function worst(values: readonly number[]): number {
  return values.length === 0 ? NaN : Math.max(...values);
}

/** "1.23 s" / "87 ms" for tables. */
export function secs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** How many times slower the baseline is than sshcheck ("6.1×"); below 1 means sshcheck is slower. */
export function ratio(baselineMs: number, sshcheckMs: number): string {
  if (!Number.isFinite(baselineMs) || !Number.isFinite(sshcheckMs) || sshcheckMs <= 0) return '-';
  return `${(baselineMs / sshcheckMs).toFixed(1)}×`;
}

/** True when this module is the process's entry point (node dist/bench/x.js), not imported. */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return new URL(metaUrl).pathname === new URL(`file://${entry}`).pathname;
  } catch {
    return false;
  }
}
