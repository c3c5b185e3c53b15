/*
 * adv-tcp — sandbox test: calls wasi:sockets/tcp-create-socket@0.2.12#create-tcp-socket(ipv4)
 * directly (the preview1 adapter has no sockets). stdout, one line:
 *   "socket created: LEAKED"                    when it returns ok (the socket is then dropped)
 *   "socket denied: <n>"                        when it returns err(error-code), n = enum index
 *                                               (0 unknown, 1 access-denied, 2 not-supported, ...)
 * A host without the import fails at instantiation instead. Exits 0.
 *
 * Canonical ABI: (address-family: enum → i32, retptr) -> (); the result<own<tcp-socket>,
 * error-code> is written at retptr: u8 tag at +0, payload (u32 handle or u8 enum) at +4.
 */
#include <stdint.h>
#include <stdio.h>

__attribute__((import_module("wasi:sockets/tcp-create-socket@0.2.12"),
               import_name("create-tcp-socket")))
extern void create_tcp_socket(int32_t address_family, int32_t retptr);

__attribute__((import_module("wasi:sockets/tcp@0.2.12"), import_name("[resource-drop]tcp-socket")))
extern void drop_tcp_socket(int32_t handle);

enum { IPV4 = 0 };

static _Alignas(4) uint8_t ret[8];

int main(void) {
  create_tcp_socket(IPV4, (int32_t)(uintptr_t)ret);
  if (ret[0] == 0) {
    printf("socket created: LEAKED\n");
    drop_tcp_socket(*(int32_t *)(ret + 4));
  } else {
    printf("socket denied: %u\n", ret[4]);
  }
  return 0;
}
