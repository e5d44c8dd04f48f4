/* Minimal Cortex-M startup for running generated models under qemu-system-arm with ARM semihosting
 * (newlib's rdimon): vector table, .bss cleared, FPU enabled where present, then main() and exit().
 * .data is loaded in place by QEMU's ELF loader (the test's linker script gives it no separate load
 * address); firmware for a real board also copies .data from flash (the deployment step will). */
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
extern uint32_t __stack_top, __bss_start__, __bss_end__;
extern int main(void);
extern void initialise_monitor_handles(void);
void Reset_Handler(void) {
  memset(&__bss_start__, 0, (size_t)((char *)&__bss_end__ - (char *)&__bss_start__));
#if defined(__ARM_FP)
  *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20);  /* CPACR: enable CP10/CP11 (FPU) */
  __asm volatile("dsb\n isb");
#endif
  initialise_monitor_handles();
  exit(main());
}
void Default_Handler(void) { for (;;) {} }
__attribute__((section(".isr_vector"), used)) const void *vectors[16] = {
  &__stack_top, (void *)Reset_Handler, (void *)Default_Handler, (void *)Default_Handler,
  (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler, 0, 0, 0, 0,
  (void *)Default_Handler, (void *)Default_Handler, 0, (void *)Default_Handler, (void *)Default_Handler};
