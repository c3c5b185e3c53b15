/*
 * adv-fs — sandbox test: tries to reach files the task was not given.
 *
 * In order: fopen+read "/etc/passwd", "../../../../etc/passwd", "./secret.txt",
 * then opendir("/") and opendir("."). One stdout line each:
 *   <what>: denied (<strerror(errno)>)
 *   <what>: LEAKED <first 64 bytes, escaped>     (files)
 *   <what>: LEAKED <entry names, space-separated> (directories; at most 32 names)
 * Always exits 0.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put_escaped(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c == '\n') fputs("\\n", stdout);
    else if (c == '\\') fputs("\\\\", stdout);
    else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
    else putchar(c);
  }
}

static void try_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    printf("%s: denied (%s)\n", path, strerror(errno));
    return;
  }
  unsigned char buf[64];
  errno = 0;
  size_t n = fread(buf, 1, sizeof buf, f);
  if (n == 0 && ferror(f)) {
    printf("%s: denied (%s)\n", path, strerror(errno));
  } else {
    printf("%s: LEAKED ", path);
    put_escaped(buf, n);
    putchar('\n');
  }
  fclose(f);
}

static void try_dir(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    printf("opendir %s: denied (%s)\n", path, strerror(errno));
    return;
  }
  printf("opendir %s: LEAKED", path);
  struct dirent *e;
  int shown = 0;
  while ((e = readdir(d)) != NULL) {
    if (shown++ == 32) {
      fputs(" ...", stdout);
      break;
    }
    putchar(' ');
    put_escaped((const unsigned char *)e->d_name, strlen(e->d_name));
  }
  putchar('\n');
  closedir(d);
}

int main(void) {
  try_file("/etc/passwd");
  try_file("../../../../etc/passwd");
  try_file("./secret.txt");
  try_dir("/");
  try_dir(".");
  return 0;
}
