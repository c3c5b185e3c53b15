/* adv-spin — sandbox test: spins forever (a volatile counter the compiler must keep). */
int main(void) {
  volatile unsigned long counter = 0;
  for (;;) counter++;
}
