/* adv-log-flood — sandbox test: writes "log line N\n" (N = 0, 1, 2, ...) to stderr forever. */
#include <stdio.h>

int main(void) {
  for (unsigned long long n = 0;; n++) fprintf(stderr, "log line %llu\n", n);
}
