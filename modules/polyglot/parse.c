/* parse — step 1 of the polyglot log-analytics flow (C, wasi:cli/command).
 *
 * stdin: access-log lines "METHOD PATH STATUS MILLIS" (this instance's share: the flow's embedded
 * manifest splits the log at line ends). stdout: "STATUS MILLIS\n" for every well-formed line.
 * stderr: how many lines were skipped as malformed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  static char line[4096];
  unsigned long kept = 0, skipped = 0;
  while (fgets(line, sizeof line, stdin)) {
    char method[16], path[2048];
    unsigned status, millis;
    if (sscanf(line, "%15s %2047s %u %u", method, path, &status, &millis) == 4 && status >= 100 && status < 600) {
      printf("%u %u\n", status, millis);
      kept++;
    } else if (strspn(line, " \t\r\n") != strlen(line)) {
      skipped++;
    }
  }
  fprintf(stderr, "parse: %lu lines kept, %lu malformed skipped\n", kept, skipped);
  return 0;
}
