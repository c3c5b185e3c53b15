/*
 * adv-scratch-files — a command for a task granted /scratch that opens FILES files (default
 * 5000), /scratch/f0, /scratch/f1, …, writing a line to each: closing each before the next (an
 * honest program's churn), or with HOLD=1 keeping every one open. SPIN_MS (default 0) then
 * busy-waits that long, so that whatever the host holds open stays open while a test looks.
 * stdout: "opened N" and, when an open fails, "open fI: <strerror>" (it stops there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void) {
  const char *files = getenv("FILES"), *hold = getenv("HOLD"), *spin = getenv("SPIN_MS");
  long n = files ? strtol(files, NULL, 10) : 5000;
  int keep = hold && *hold == '1';
  long i = 0;
  for (; i < n; i++) {
    char path[32];
    snprintf(path, sizeof path, "/scratch/f%ld", i);
    FILE *f = fopen(path, "w");
    if (!f) {
      printf("open f%ld: %s\n", i, strerror(errno));
      break;
    }
    fprintf(f, "file %ld\n", i);
    if (keep) fflush(f);
    else fclose(f);
  }
  printf("opened %ld\n", i);
  if (spin) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < strtol(spin, NULL, 10));
  }
  return 0;
}
