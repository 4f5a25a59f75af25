/* LD_PRELOAD shim for the write-path benchmark (demo/benches/write_path.rs): counts the bytes
 * user space copies with memcpy/memmove, so "copies per DATA byte" is measured, not argued.
 * Copies start being counted when the program calls count_copies(1) (found with dlsym by the
 * benchmark), so setup is left out. Build: gcc -O2 -shared -fPIC -o memcpy_count.so
 * memcpy_count.c -ldl (tools/copies.sh does it). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int counting;
static unsigned long long copied, calls;

void count_copies(int on) { counting = on; }
unsigned long long copies_bytes(void) { return copied; }
unsigned long long copies_calls(void) { return calls; }

static void *(*real_memcpy)(void *, const void *, size_t);
static void *(*real_memmove)(void *, const void *, size_t);

/* Byte-wise fallbacks for the moment before dlsym has answered. */
static void *slow_copy(void *d, const void *s, size_t n) {
  unsigned char *dd = d;
  const unsigned char *ss = s;
  if (dd < ss) { for (size_t i = 0; i < n; i++) dd[i] = ss[i]; }
  else { for (size_t i = n; i > 0; i--) dd[i - 1] = ss[i - 1]; }
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  if (!real_memcpy) real_memcpy = dlsym(RTLD_NEXT, "memcpy");
  if (counting) { copied += n; calls++; }
  return real_memcpy ? real_memcpy(d, s, n) : slow_copy(d, s, n);
}

void *memmove(void *d, const void *s, size_t n) {
  if (!real_memmove) real_memmove = dlsym(RTLD_NEXT, "memmove");
  if (counting) { copied += n; calls++; }
  return real_memmove ? real_memmove(d, s, n) : slow_copy(d, s, n);
}
