/* Synthetic residents for the demo: plausible names, ID numbers with
 * valid check digits, mobile numbers and addresses.  Deterministic from a
 * seed so runs are repeatable.  Not real people. */
#ifndef VAULTCTL_SYNTH_H
#define VAULTCTL_SYNTH_H

#include <stdint.h>

typedef struct synth_resident {
    char name[32];
    char gender[8];
    char birth_date[16];
    char id_number[24];
    char phone[16];
    char address[160];
    char jurisdiction[96];
    char health[64];
    char disability[16];
} synth_resident;

typedef struct synth { uint64_t state; } synth;

void synth_init(synth *g, uint64_t seed);
/* Fill r with the i-th resident; grids are spread over two communities. */
void synth_resident_make(synth *g, synth_resident *r);
/* GB 11643 check character for the first 17 digits of an ID number. */
char synth_id_check(const char *first17);

#endif
