/* The pager's test guest (bare metal, no Linux): fills PATTERN_BYTES at PATTERN_BASE with a pattern
 * derived from each word's address, then forever: verifies the whole pattern, bumps a counter in its
 * own .data, writes the counter into a scratch page (so every pass dirties memory), and reports over
 * the serial port:  "count=<n> ok"  or  "FAIL addr=<hex> got=<hex> want=<hex>".
 * After a snapshot and a lazy restore, the counter must carry on and the check must keep passing. */
typedef unsigned int u32;
typedef unsigned char u8;

#define PATTERN_BASE 0x01000000u  /* 16 MiB */
#define PATTERN_BYTES (32u << 20) /* 32 MiB */
#define SCRATCH ((volatile u32 *)0x00800000u)

static volatile u32 counter = 0;
static volatile u32 filled = 0;

static inline void outb(unsigned short port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(unsigned short port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static void putc_serial(char c) {
  while (!(inb(0x3f8 + 5) & 0x20)) {
  }
  outb(0x3f8, (u8)c);
}

static void puts_serial(const char *s) {
  while (*s) putc_serial(*s++);
}

static void put_dec(u32 v) {
  char buf[12];
  int i = 0;
  do {
    buf[i++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (i) putc_serial(buf[--i]);
}

static void put_hex(u32 v) {
  for (int s = 28; s >= 0; s -= 4) putc_serial("0123456789abcdef"[(v >> s) & 15]);
}

static u32 pattern(u32 addr) { return ((addr * 2654435761u) ^ 0x5a5aa5a5u) | 1u; }

void guest_main(void) {
  volatile u32 *mem = (volatile u32 *)PATTERN_BASE;
  const u32 words = PATTERN_BYTES / 4;
  if (!filled) {
    for (u32 i = 0; i < words; i++) mem[i] = pattern(PATTERN_BASE + i * 4);
    filled = 1;
    puts_serial("filled\n");
  }
  for (;;) {
    for (u32 i = 0; i < words; i++) {
      u32 addr = PATTERN_BASE + i * 4;
      u32 got = mem[i];
      if (got != pattern(addr)) {
        puts_serial("FAIL addr=");
        put_hex(addr);
        puts_serial(" got=");
        put_hex(got);
        puts_serial(" want=");
        put_hex(pattern(addr));
        puts_serial("\n");
        for (;;) __asm__ volatile("hlt");
      }
    }
    counter = counter + 1;
    SCRATCH[counter % 1024] = counter;
    puts_serial("count=");
    put_dec(counter);
    puts_serial(" ok\n");
  }
}
