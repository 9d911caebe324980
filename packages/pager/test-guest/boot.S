/* Multiboot (v1) entry for the pager's test guest: QEMU's -kernel loads this ELF and jumps to _start in
 * 32-bit protected mode, paging off, flat segments. */
.set MB_MAGIC, 0x1BADB002
.set MB_FLAGS, 0
.section .multiboot, "a"
.align 4
.long MB_MAGIC
.long MB_FLAGS
.long -(MB_MAGIC + MB_FLAGS)

.section .bss
.align 16
stack_bottom:
.skip 16384
stack_top:

.section .text
.global _start
_start:
  mov $stack_top, %esp
  call guest_main
1:
  hlt
  jmp 1b

/* No executable stack. */
.section .note.GNU-stack, "", @progbits
