/*
 * adv-http — sandbox test: calls wasi:http@0.2.12 directly (the preview1 adapter has no HTTP).
 * Steps, one stdout line each (a host without these imports fails at instantiation instead):
 *   "fields: LEAKED"                      [constructor]fields returned a handle
 *   "outgoing-request: LEAKED"            [constructor]outgoing-request returned a handle
 *                                          (then scheme http, authority 127.0.0.1:9, path /)
 *   "handle: LEAKED"                      outgoing-handler.handle returned ok(future)
 *   "handle: denied (error-code <n>)"     it returned err(error-code), n = case index
 *                                          (15 = HTTP-request-denied)
 * The target is the local discard port, so a leaking host sends nothing anywhere. Exits 0.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPES "wasi:http/types@0.2.12"

__attribute__((import_module(TYPES), import_name("[constructor]fields")))
extern int32_t fields_new(void);

__attribute__((import_module(TYPES), import_name("[constructor]outgoing-request")))
extern int32_t outgoing_request_new(int32_t headers);

/* option<scheme>: (is_some, case, str_ptr, str_len) -> result (0 ok) */
__attribute__((import_module(TYPES), import_name("[method]outgoing-request.set-scheme")))
extern int32_t outgoing_request_set_scheme(int32_t self, int32_t is_some, int32_t scheme,
                                           int32_t ptr, int32_t len);

__attribute__((import_module(TYPES), import_name("[method]outgoing-request.set-authority")))
extern int32_t outgoing_request_set_authority(int32_t self, int32_t is_some, int32_t ptr,
                                              int32_t len);

__attribute__((import_module(TYPES), import_name("[method]outgoing-request.set-path-with-query")))
extern int32_t outgoing_request_set_path(int32_t self, int32_t is_some, int32_t ptr, int32_t len);

/* (request, option<request-options> as (is_some, handle), retptr): result<future, error-code>
 * at retptr: u8 tag at +0, payload at +8 (error-code has 8-byte-aligned cases); an
 * error-code's own u8 tag is the first byte of the payload. */
__attribute__((import_module("wasi:http/outgoing-handler@0.2.12"), import_name("handle")))
extern void outgoing_handler_handle(int32_t request, int32_t opt_is_some, int32_t opt_handle,
                                    int32_t retptr);

static _Alignas(8) uint8_t ret[40];

/*
 * The host lowers error-code strings into our memory through cabi_realloc, and the preview1
 * adapter then also takes its stack and state from it (2 x 64 KiB): a static bump arena,
 * so that no libc code runs inside the adapter.
 *
 * Clang 14's wasm-ld wraps every export of a command in __wasm_call_ctors/__wasm_call_dtors
 * unless the program calls __wasm_call_ctors itself; the dtors flush and reset stdio, which
 * inside cabi_realloc (called from the adapter's first fd_write) drops the first line of
 * output. So main runs the ctors itself, and flushes stdio before it returns.
 */
static _Alignas(16) unsigned char arena[256 * 1024];
static size_t arena_used;

__attribute__((export_name("cabi_realloc")))
void *cabi_realloc(void *ptr, size_t old_size, size_t align, size_t new_size) {
  if (ptr != NULL && new_size <= old_size) return ptr;
  size_t at = (arena_used + align - 1) & ~(align - 1);
  if (at > sizeof arena || new_size > sizeof arena - at) __builtin_trap();
  arena_used = at + new_size;
  if (ptr != NULL) memcpy(arena + at, ptr, old_size);
  return arena + at;
}

extern void __wasm_call_ctors(void);

#define STR(s) (int32_t)(uintptr_t)(s), (int32_t)strlen(s)

int main(void) {
  __wasm_call_ctors();
  int32_t headers = fields_new();
  printf("fields: LEAKED\n");
  fflush(stdout);

  int32_t req = outgoing_request_new(headers);
  printf("outgoing-request: LEAKED\n");
  fflush(stdout);
  outgoing_request_set_scheme(req, 1, 0 /* HTTP */, 0, 0);
  outgoing_request_set_authority(req, 1, STR("127.0.0.1:9"));
  outgoing_request_set_path(req, 1, STR("/"));

  outgoing_handler_handle(req, 0, 0, (int32_t)(uintptr_t)ret);
  if (ret[0] == 0) printf("handle: LEAKED\n");
  else printf("handle: denied (error-code %u)\n", ret[8]);
  fflush(NULL);
  return 0;
}
