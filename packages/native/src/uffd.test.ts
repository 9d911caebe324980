// Kernel capability checks and argument handling. Serving real faults is covered by
// shim-handoff.test.ts and fault-server.test.ts (a userfaultfd must be served by another thread).
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { test } from 'node:test';
import { UffdFeature, uffdApi, uffdCreate, uffdReadEvents, uffdSupportedFeatures, uffdWake } from './uffd.js';

test('the kernel offers what the pager relies on', () => {
  const features = uffdSupportedFeatures();
  for (const name of [
    'MISSING_SHMEM',
    'EVENT_REMOVE',
    'EVENT_UNMAP',
    'WP_HUGETLBFS_SHMEM',
    'WP_ASYNC',
  ] as const) {
    assert.ok(features & UffdFeature[name], `UFFD_FEATURE_${name}`);
  }
});

test('UFFDIO_API grants requested features once, and reports the ioctls', () => {
  const fd = uffdCreate();
  try {
    const want = UffdFeature.MISSING_SHMEM | UffdFeature.EVENT_REMOVE;
    const api = uffdApi(fd, want);
    assert.equal(api.features & want, want);
    assert.ok(api.ioctls & (1n << 63n), '_UFFDIO_API bit');
    assert.ok(api.ioctls & (1n << 0x00n), '_UFFDIO_REGISTER bit');
    assert.throws(() => uffdApi(fd, want), { code: 'EINVAL' });
    assert.deepEqual(uffdReadEvents(fd), []);
    // Waking a range nobody waits on is harmless; a bad range is EINVAL.
    uffdWake(fd, 0x10000, 4096);
    assert.throws(() => uffdWake(fd, 0x10001, 4096), { code: 'EINVAL' });
  } finally {
    closeSync(fd);
  }
});

test('bad arguments are TypeErrors, not crashes', () => {
  assert.throws(() => uffdApi(-1, 0), TypeError);
  assert.throws(() => uffdWake(0, -5, 4096), TypeError);
  assert.throws(() => uffdApi(999999, 0), { code: 'EBADF' });
});
