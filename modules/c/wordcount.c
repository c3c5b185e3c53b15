/*
 * wordcount — a plain wasi:cli/command task.
 *
 * Counts whitespace-separated words on stdin and prints the count in decimal,
 * followed by "\n", on stdout. Words are split on ' ', '\t', '\n', '\r', '\v', '\f'.
 * Because a word is counted where it starts, the counts of line-aligned
 * partitions add up to the count of the whole input.
 *
 * Build (modules/build.mjs does this):
 *        clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug wordcount.c -o wordcount.core.wasm
 *        jco new wordcount.core.wasm --wasi-command -o wordcount.wasm
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1024 * 1024) /* big reads: every read is a call into the host */

static unsigned char buf[CHUNK];
static unsigned char is_space[256];

int main(void) {
  is_space[' '] = is_space['\t'] = is_space['\n'] = 1;
  is_space['\r'] = is_space['\v'] = is_space['\f'] = 1;

  uint64_t words = 0;
  int in_word = 0;
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "wordcount: read error: %s\n", strerror(errno));
      return 1;
    }
    for (ssize_t i = 0; i < n; i++) {
      int space = is_space[buf[i]];
      /* a word starts at a non-space byte that follows a space (or the start) */
      words += (uint64_t)(!space & !in_word);
      in_word = !space;
    }
  }

  char out[32];
  int len = snprintf(out, sizeof out, "%llu\n", (unsigned long long)words);
  const char *p = out;
  while (len > 0) {
    ssize_t w = write(1, p, (size_t)len);
    if (w < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "wordcount: write error: %s\n", strerror(errno));
      return 1;
    }
    p += w;
    len -= (int)w;
  }
  return 0;
}
