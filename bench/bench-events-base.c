/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event table as in base ba824cf: old bucket function, unbounded chains (bench only). */
#define VARIANT bench_base
#define BENCH_UNBOUNDED
#include "events-variant.h"
