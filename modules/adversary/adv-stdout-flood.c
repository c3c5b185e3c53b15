/*
 * adv-stdout-flood — sandbox test: writes 1 GiB of 'x' to stdout in 64 KiB write(2)s.
 * Exits 0 if it ever finishes; on a write error prints "write failed after N bytes: <err>"
 * to stderr and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[64 * 1024];

int main(void) {
  memset(buf, 'x', sizeof buf);
  unsigned long long total = 1ULL << 30, done = 0;
  while (done < total) {
    ssize_t w = write(1, buf, sizeof buf);
    if (w < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "write failed after %llu bytes: %s\n", done, strerror(errno));
      return 1;
    }
    done += (unsigned long long)w;
  }
  return 0;
}
