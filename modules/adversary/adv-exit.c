/*
 * adv-exit — sandbox test: plain libc exit(3) from main, after "before exit\n" on stderr.
 * (Through the preview1 command adapter a non-zero proc_exit becomes
 * wasi:cli/exit.exit(err), so the host sees a failure, not the code 3.)
 */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  fprintf(stderr, "before exit\n");
  exit(3);
}
