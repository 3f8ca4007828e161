/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Public interface of the p2pdma core module (p2pdma.ko).
 */
#ifndef _P2PDMA_P2PDMA_H
#define _P2PDMA_P2PDMA_H

/**
 * DOC: Naming
 *
 * Every symbol the core exports starts with ``p2pdma_`` (functions) or
 * ``P2PDMA_`` (constants), never with the upstream ``pci_p2pdma_`` or
 * ``pci_*p2pmem*`` names, so nothing collides with a kernel that has its
 * own P2PDMA framework. Every exported symbol is declared here with
 * kernel-doc.
 */

#endif /* _P2PDMA_P2PDMA_H */
