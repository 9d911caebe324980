/**
 * Files the image adds to the Debian rootfs. busybox init is PID 1: it reaps orphans (Node can't) and
 * respawns the guest agent if it ever dies. Network settings come from the kernel command line, so the host
 * agent owns the guest address and every snapshot restores into any sandbox slot.
 * envd runs on V8's interpreter only (no optimizing tiers, bytecode never flushed): under an emulating
 * hypervisor every new piece of machine code must be translated again, so compiled tiers cost more than
 * they save, and after a restore all code is new to the emulator (measured on TCG: exec round trip p50
 * 60 -> 36 ms, p99 118 -> 46 ms; boot and restore-to-ready a little faster). Feedback vectors from the
 * first call: without them, the first requests after a restore take V8's generic lookup paths, more code
 * to translate (~800 fewer translation blocks on the way to ready, measured with QEMU's -d in_asm).
 * No memory reducer: its full GCs, 8 s and more after activity, give nothing back to the host (a guest page
 * V8 frees stays in the sandbox's RAM file) but in every template spawn they ran again from the template's
 * heap, and touched pages the pager had not loaded yet: an idle spawned guest's QEMU took 33 ms of CPU a
 * second instead of 3, and each spawn ~170 ms more CPU in the concurrency bench.
 */
export const inittab = `::sysinit:/opt/amber/rc
::respawn:/usr/bin/node --no-opt --no-maglev --no-sparkplug --no-flush-bytecode --no-lazy-feedback-allocation --no-memory-reducer /opt/amber/envd.cjs
::once:/opt/amber/rc-net
::shutdown:/opt/amber/busybox sync
::shutdown:/opt/amber/busybox umount -a -r
`;

/**
 * The guest's sysinit. Its last two lines turn off kernel housekeeping a sandbox does not need: every spawned
 * guest runs it once more on code its fresh QEMU has not translated yet. Proactive compaction (kcompactd
 * every 0.5 s) and the per-CPU vmstat fold (every 1 s) cost a spawn ~10 ms of emulated CPU in its first
 * seconds: without them 21 ms of vCPU in the 3 s after ready instead of 31, 88 ms to ready instead of 103,
 * and an idle guest's QEMU 0.5 ms of CPU a second instead of 2.3. Compaction still runs when an allocation
 * needs it; /proc/meminfo may trail by the per-CPU deltas for up to 10 s.
 */
export const rc = `#!/opt/amber/busybox sh
bb=/opt/amber/busybox
$bb mkdir -p /proc /sys /dev/pts /dev/shm /tmp /run
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devpts devpts /dev/pts -o gid=5,mode=620,ptmxmode=666
$bb mount -t tmpfs tmpfs /dev/shm -o mode=1777
$bb mount -t tmpfs tmpfs /tmp -o mode=1777
$bb mount -t tmpfs tmpfs /run -o mode=755
hostname=amber
for arg in $($bb cat /proc/cmdline); do
  case "$arg" in amber.hostname=*) hostname="\${arg#amber.hostname=}" ;; esac
done
$bb hostname "$hostname"
echo "$hostname" > /etc/hostname
echo 0 > /proc/sys/vm/compaction_proactiveness
echo 10 > /proc/sys/vm/stat_interval
`;

/** Runs beside envd's startup (envd binds 0.0.0.0 before the address exists), which takes most of boot. */
export const rcNet = `#!/opt/amber/busybox sh
bb=/opt/amber/busybox
ip=
gw=
for arg in $($bb cat /proc/cmdline); do
  case "$arg" in
    amber.ip=*) ip="\${arg#amber.ip=}" ;;
    amber.gw=*) gw="\${arg#amber.gw=}" ;;
  esac
done
$bb ip link set lo up
if [ -n "$ip" ]; then
  # IPv4 only, as the sandbox's network is: no MLD, router solicitation or DAD timers to run after a restore
  echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
  $bb ip addr add "$ip" dev eth0
  $bb ip link set eth0 up
  [ -n "$gw" ] && $bb ip route add default via "$gw"
fi
`;

/** C.UTF-8 is built into Debian 12's libc: a UTF-8 locale without the locales package. */
export const locale = 'LANG=C.UTF-8\n';

export const hosts = `127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
`;

/** Every file the image adds under the Debian tree: path -> content and mode. Their hash is an image input. */
export const rootfsFiles: ReadonlyArray<{ path: string; content: string; mode: number }> = [
  { path: 'etc/inittab', content: inittab, mode: 0o644 },
  { path: 'etc/hosts', content: hosts, mode: 0o644 },
  { path: 'etc/default/locale', content: locale, mode: 0o644 },
  { path: 'opt/amber/rc', content: rc, mode: 0o755 },
  { path: 'opt/amber/rc-net', content: rcNet, mode: 0o755 },
];
