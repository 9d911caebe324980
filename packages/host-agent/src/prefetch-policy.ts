/** Which pages a restore installs before the guest faults on them (sandbox-snapshots.ts prefetchOption). */
export type PrefetchPolicy = 'none' | 'all' | 'working-set';
