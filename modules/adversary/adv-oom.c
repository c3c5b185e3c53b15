/*
 * adv-oom — sandbox test: malloc + memset 1 MiB blocks forever (never freed). When malloc
 * returns NULL: stderr "malloc failed after N MiB\n", then abort() (a wasm trap).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

int main(void) {
  unsigned long n = 0;
  for (;;) {
    void *p = malloc(MIB);
    if (p == NULL) {
      fprintf(stderr, "malloc failed after %lu MiB\n", n);
      abort();
    }
    memset(p, (int)(n & 0xff) | 1, MIB); /* touch every byte */
    __asm__ volatile("" : : "r"(p) : "memory"); /* keep the write */
    n++;
  }
}
