/*
 * sleep — a wasi:cli/command task that waits SLEEP_MS milliseconds (default 1000), then copies
 * stdin to stdout. For tests that need a task to be running at a known moment.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned char buf[64 * 1024];

int main(void) {
  const char *s = getenv("SLEEP_MS");
  long ms = s && *s ? strtol(s, NULL, 10) : 1000;
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) return n < 0;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, n - off);
      if (w < 0) return 1;
      off += w;
    }
  }
}
