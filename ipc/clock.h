/*
 * clock.h: milliseconds from the monotonic clock (intervals, timeouts) and
 * from the wall clock (record timestamps), for every process.
 */
#ifndef KM_CLOCK_H
#define KM_CLOCK_H
#include <stdint.h>

int64_t km_mono_ms(void);
int64_t km_wall_ms(void);

#endif
