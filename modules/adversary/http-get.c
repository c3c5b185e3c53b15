/*
 * http-get — a well-behaved HTTP client for the network tests: one GET through wasi:http@0.2.12
 * (called directly; the preview1 adapter has no HTTP), to http://$HTTP_AUTHORITY$HTTP_PATH
 * (HTTP_PATH defaults to "/"). stdout:
 *   "status: <n>\n" then the response body, as received, when a response arrives
 *   "error: <error-code case name>\n"           when handle or the response returns err(error-code)
 * Exits 0 either way: a refused request is an answer this program handles, not a crash.
 *
 * Canonical ABI layouts (error-code holds a u64, so it and everything around it is 8-aligned):
 *   handle → result<future-incoming-response, error-code>: tag +0, handle or error-code tag +8
 *   future-incoming-response.get → option<result<result<incoming-response, error-code>>>:
 *     option tag +0, outer result tag +8, inner result tag +16, handle or error-code tag +24
 *   consume / stream → result<handle>: tag +0, handle +4
 *   input-stream.blocking-read → result<list<u8>, stream-error>: tag +0, ptr +4, len +8
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPES "wasi:http/types@0.2.12"
#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

IMPORT(TYPES, "[constructor]fields") extern int32_t fields_new(void);
IMPORT(TYPES, "[constructor]outgoing-request") extern int32_t outgoing_request_new(int32_t headers);
/* option<scheme>: (is_some, case, str_ptr, str_len) -> result (0 ok) */
IMPORT(TYPES, "[method]outgoing-request.set-scheme")
extern int32_t outgoing_request_set_scheme(int32_t self, int32_t is_some, int32_t scheme, int32_t ptr, int32_t len);
IMPORT(TYPES, "[method]outgoing-request.set-authority")
extern int32_t outgoing_request_set_authority(int32_t self, int32_t is_some, int32_t ptr, int32_t len);
IMPORT(TYPES, "[method]outgoing-request.set-path-with-query")
extern int32_t outgoing_request_set_path(int32_t self, int32_t is_some, int32_t ptr, int32_t len);
IMPORT(TYPES, "[method]future-incoming-response.subscribe") extern int32_t future_subscribe(int32_t self);
IMPORT(TYPES, "[method]future-incoming-response.get") extern void future_get(int32_t self, int32_t retptr);
IMPORT(TYPES, "[method]incoming-response.status") extern int32_t response_status(int32_t self);
IMPORT(TYPES, "[method]incoming-response.consume") extern void response_consume(int32_t self, int32_t retptr);
IMPORT(TYPES, "[method]incoming-body.stream") extern void body_stream(int32_t self, int32_t retptr);
IMPORT("wasi:io/poll@0.2.12", "[method]pollable.block") extern void pollable_block(int32_t self);
IMPORT("wasi:io/poll@0.2.12", "[resource-drop]pollable") extern void pollable_drop(int32_t self);
IMPORT("wasi:io/streams@0.2.12", "[method]input-stream.blocking-read")
extern void stream_blocking_read(int32_t self, int64_t len, int32_t retptr);
IMPORT("wasi:http/outgoing-handler@0.2.12", "handle")
extern void outgoing_handler_handle(int32_t request, int32_t opt_is_some, int32_t opt_handle, int32_t retptr);

static const char *const ERROR_CODES[] = {
  "DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",
  "destination-IP-prohibited", "destination-IP-unroutable", "connection-refused",
  "connection-terminated", "connection-timeout", "connection-read-timeout",
  "connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",
  "TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",
  "HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",
  "HTTP-request-URI-invalid", "HTTP-request-URI-too-long", "HTTP-request-header-section-size",
  "HTTP-request-header-size", "HTTP-request-trailer-section-size", "HTTP-request-trailer-size",
  "HTTP-response-incomplete", "HTTP-response-header-section-size", "HTTP-response-header-size",
  "HTTP-response-body-size", "HTTP-response-trailer-section-size", "HTTP-response-trailer-size",
  "HTTP-response-transfer-coding", "HTTP-response-content-coding", "HTTP-response-timeout",
  "HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error",
  "internal-error",
};

static _Alignas(8) uint8_t ret[64];

/*
 * The host lowers strings and body chunks into our memory through cabi_realloc, and the
 * preview1 adapter also takes its stack and state from it: a static bump arena, so that no libc
 * code runs inside the adapter (see adv-http.c). Body chunks are released by rewinding the arena
 * to a mark taken once the adapter is set up (after the first line is written).
 *
 * main runs the ctors itself and flushes before it returns (see adv-http.c for why).
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

#define RET (int32_t)(uintptr_t)ret
#define STR(s) (int32_t)(uintptr_t)(s), (int32_t)strlen(s)

static int error(uint8_t code) {
  printf("error: %s\n", code < sizeof ERROR_CODES / sizeof *ERROR_CODES ? ERROR_CODES[code] : "?");
  fflush(NULL);
  return 0;
}

int main(void) {
  __wasm_call_ctors();
  const char *authority = getenv("HTTP_AUTHORITY");
  const char *path = getenv("HTTP_PATH");
  if (authority == NULL) authority = "127.0.0.1";
  if (path == NULL) path = "/";

  int32_t req = outgoing_request_new(fields_new());
  outgoing_request_set_scheme(req, 1, 0 /* HTTP */, 0, 0);
  if (outgoing_request_set_authority(req, 1, STR(authority)) != 0) {
    printf("error: invalid authority\n");
    fflush(NULL);
    return 0;
  }
  outgoing_request_set_path(req, 1, STR(path));

  outgoing_handler_handle(req, 0, 0, RET);
  if (ret[0] != 0) return error(ret[8]);
  int32_t future = *(int32_t *)(ret + 8);

  int32_t ready = future_subscribe(future);
  pollable_block(ready);
  pollable_drop(ready);
  future_get(future, RET);
  if (ret[0] == 0 || ret[8] != 0) {
    printf("error: response not ready\n");
    fflush(NULL);
    return 0;
  }
  if (ret[16] != 0) return error(ret[24]);
  int32_t response = *(int32_t *)(ret + 24);

  printf("status: %d\n", response_status(response));
  fflush(stdout);

  response_consume(response, RET);
  if (ret[0] != 0) return error(38);
  body_stream(*(int32_t *)(ret + 4), RET);
  if (ret[0] != 0) return error(38);
  int32_t stream = *(int32_t *)(ret + 4);

  size_t mark = arena_used;
  for (;;) {
    stream_blocking_read(stream, 64 * 1024, RET);
    if (ret[0] != 0) break; /* closed (the end) or failed */
    fwrite((void *)(uintptr_t)*(uint32_t *)(ret + 4), 1, *(uint32_t *)(ret + 8), stdout);
    fflush(stdout);
    arena_used = mark;
  }
  fflush(NULL);
  return 0;
}
