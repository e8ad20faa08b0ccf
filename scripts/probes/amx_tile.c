/* Probe: can this process really run AMX tile instructions? Exit 0 if so; SIGILL if the
   CPU advertises AMX but the machine (e.g. a VM) does not enable it. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  if (syscall(SYS_arch_prctl, 0x1023, 18)) return 2;
  uint8_t cfg[64]; memset(cfg, 0, 64); cfg[0] = 1;
  for (int i = 0; i < 8; i++) { cfg[16 + 2 * i] = 64; cfg[48 + i] = 16; }
  _tile_loadconfig(cfg);
  _tile_zero(0);
  _tile_release();
  return 0;
}
