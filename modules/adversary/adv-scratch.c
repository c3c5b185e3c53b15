/*
 * adv-scratch — sandbox test for a granted /scratch directory. Writes /scratch/work/data.txt,
 * reads it back, lists /scratch, then tries to leave it ("/scratch/../etc/passwd",
 * "/scratch/work/../../etc/passwd", "/etc/passwd") and to make a symlink out. stdout: one line per
 * step, "<step>: ok <detail>" or "<step>: denied (<strerror>)"; a line with LEAKED means an escape.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void try_read(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("read %s: denied (%s)\n", path, strerror(errno));
    return;
  }
  char buf[65] = {0};
  size_t n = fread(buf, 1, 64, f);
  fclose(f);
  for (size_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = ' ';
  printf("read %s: LEAKED %s\n", path, buf);
}

int main(void) {
  if (mkdir("/scratch/work", 0755) != 0) printf("mkdir: failed (%s)\n", strerror(errno));
  FILE *f = fopen("/scratch/work/data.txt", "w");
  if (!f) {
    printf("write: failed (%s)\n", strerror(errno));
    return 1;
  }
  fputs("scratch works\n", f);
  fclose(f);
  char buf[64] = {0};
  f = fopen("/scratch/work/data.txt", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n && buf[n - 1] == '\n' ? n - 1 : n] = 0;
  printf("readback: ok %s\n", buf);
  DIR *d = opendir("/scratch");
  if (d) {
    printf("list /scratch: ok");
    struct dirent *e;
    while ((e = readdir(d))) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
  }
  try_read("/scratch/../etc/passwd");
  try_read("/scratch/work/../../etc/passwd");
  try_read("/etc/passwd");
  if (symlink("/etc/passwd", "/scratch/link") == 0) {
    printf("symlink: made\n");
    try_read("/scratch/link");
  } else {
    printf("symlink: denied (%s)\n", strerror(errno));
  }
  return 0;
}
