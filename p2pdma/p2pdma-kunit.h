/* SPDX-License-Identifier: GPL-2.0 */
/*
 * p2pdma's internals that its KUnit suite (tests/kunit/p2pdma_kunit.c)
 * uses: static without KUnit, exported to the suite's namespace with it.
 */
#ifndef _P2PDMA_KUNIT_H
#define _P2PDMA_KUNIT_H

#include <kunit/visibility.h>

#if IS_ENABLED(CONFIG_KUNIT)
struct ida;

/* The char devices' minors: the suite takes them all. */
extern struct ida p2pmem_ida;
#endif

#endif /* _P2PDMA_KUNIT_H */
