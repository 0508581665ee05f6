/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The old bucket function with today's chain bound: what the bound alone buys (bench only). */
#define VARIANT bench_bound
#include "events-variant.h"
