/* startup.c - Cortex-M startup of rnnas deployment firmware: vector table, .data copied from flash,
 * .bss cleared, the stack painted (for the peak-stack measurement), the FPU enabled where present,
 * then main(). C99; no libc. */
#include <stdint.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_limit__, __stack_top__;
extern int main(void);
void rnnas_exit(int code);

#define RNNAS_STACK_PAINT 0xC5C5C5C5u

void Reset_Handler(void) {
  uint32_t *src = &__data_load__, *dst = &__data_start__;
  while (dst < &__data_end__) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  {
    /* Paint the stack below the current frame (this function's few words stay unpainted). */
    uint32_t *p = &__stack_limit__;
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    while (p < sp - 16) *p++ = RNNAS_STACK_PAINT;
  }
#if defined(__ARM_FP)
  *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: CP10, CP11 full access */
  __asm volatile("dsb\n\tisb");
#endif
  rnnas_exit(main());
}

/* Bytes of stack ever used: the painted words below the first overwritten one. */
uint32_t rnnas_stack_peak(void) {
  const uint32_t *p = &__stack_limit__;
  while (p < &__stack_top__ && *p == RNNAS_STACK_PAINT) ++p;
  return (uint32_t)((const uint8_t *)&__stack_top__ - (const uint8_t *)p);
}

static void Default_Handler(void) {
  rnnas_exit(99);
}

__attribute__((section(".isr_vector"), used)) void (*const rnnas_vectors[16])(void) = {
    (void (*)(void))(&__stack_top__), Reset_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    Default_Handler};
