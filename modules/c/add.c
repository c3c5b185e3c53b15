/*
 * add — a plain wasi:cli/command task: the reduce step of the word-count benchmark.
 *
 * Reads whitespace-separated unsigned decimal integers on stdin (a fanned-in task's stdin is
 * every upstream output in partition order) and prints their sum followed by "\n". Any other
 * byte is an error: the task exits 1 naming its offset, so a wrong upstream never adds up quietly.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  static unsigned char buf[64 * 1024];
  uint64_t total = 0, value = 0, offset = 0;
  int in_number = 0;
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++, offset++) {
      unsigned char c = buf[i];
      if (c >= '0' && c <= '9') {
        value = value * 10 + (uint64_t)(c - '0');
        in_number = 1;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        total += value;
        value = 0;
        in_number = 0;
      } else {
        fprintf(stderr, "add: byte %llu of stdin is not a digit or whitespace\n", (unsigned long long)offset);
        return 1;
      }
    }
  }
  if (n < 0) {
    perror("add: read");
    return 1;
  }
  if (in_number) total += value;
  printf("%llu\n", (unsigned long long)total);
  return 0;
}
