/* CRC32C (Castagnoli), as crc32c.c computes it; no Node-API here. */
#ifndef BASALT_CRC32C_H
#define BASALT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Builds the tables and picks the hardware path; once, before any other call. */
void crc32c_init(void);
/* Whether the SSE4.2 path is in use. */
int crc32c_hardware(void);
/* The CRC32C of `n` bytes at `p`, continuing from a previous `crc` (0 to start). */
uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n);
/* The raw register after `n` bytes, by the table path only (tests check both paths). */
uint32_t crc32c_raw_portable(uint32_t state, const uint8_t *p, size_t n);

#endif
