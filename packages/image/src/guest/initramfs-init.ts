/**
 * /init of the initramfs: load the virtio modules (the cloud kernel has them as modules), mount the root
 * disk and switch_root into it. On any failure it powers off, so QEMU exits and the host sees the console.
 */
export const initramfsInit = `#!/bin/busybox sh
bb=/bin/busybox
fail() { echo "amber-initramfs: $*"; $bb poweroff -f; }
$bb mkdir -p /proc /sys /dev /newroot
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
for m in $($bb cat /modules.order); do
  $bb insmod /lib/modules/$m || fail "insmod $m failed"
done
root=/dev/vda
for arg in $($bb cat /proc/cmdline); do
  case "$arg" in amber.root=*) root="\${arg#amber.root=}" ;; esac
done
i=0
while [ ! -b "$root" ]; do
  i=$((i + 1))
  [ $i -gt 1000 ] && fail "root device $root did not appear"
  $bb usleep 5000
done
$bb mount -t ext4 -o rw,noatime "$root" /newroot || fail "cannot mount $root"
$bb mount --move /dev /newroot/dev
$bb umount /proc /sys
exec $bb switch_root /newroot /opt/amber/busybox init
`;
