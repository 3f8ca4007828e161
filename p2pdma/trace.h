/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of p2pdma: events/p2pdma/ in tracefs.
 *
 * Device names are copied into a fixed array: __assign_str() changed its
 * arguments between 6.1 and 6.12.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM p2pdma

#if !defined(_P2PDMA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _P2PDMA_TRACE_H

#include <linux/pci.h>
#include <linux/tracepoint.h>

TRACE_EVENT(p2pdma_register,
	    TP_PROTO(struct pci_dev *pdev, int bar, u64 size, u64 bus),
	    TP_ARGS(pdev, bar, size, bus),
	    TP_STRUCT__entry(__array(char, dev, 32)
			     __field(int, bar)
			     __field(u64, size)
			     __field(u64, bus)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), sizeof(__entry->dev));
			   __entry->bar = bar;
			   __entry->size = size;
			   __entry->bus = bus;),
	    TP_printk("%s bar=%d size=%#llx bus=%#llx", __entry->dev,
		      __entry->bar, __entry->size, __entry->bus)
);

TRACE_EVENT(p2pdma_alloc_failed,
	    TP_PROTO(struct pci_dev *pdev, size_t size, bool dying),
	    TP_ARGS(pdev, size, dying),
	    TP_STRUCT__entry(__array(char, dev, 32)
			     __field(size_t, size)
			     __field(bool, dying)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), sizeof(__entry->dev));
			   __entry->size = size;
			   __entry->dying = dying;),
	    TP_printk("%s size=%zu%s", __entry->dev, __entry->size,
		      __entry->dying ? " (provider going away)" : "")
);

TRACE_EVENT(p2pdma_remove,
	    TP_PROTO(struct pci_dev *pdev, u64 size),
	    TP_ARGS(pdev, size),
	    TP_STRUCT__entry(__array(char, dev, 32)
			     __field(u64, size)),
	    TP_fast_assign(strscpy(__entry->dev, pci_name(pdev), sizeof(__entry->dev));
			   __entry->size = size;),
	    TP_printk("%s size=%#llx", __entry->dev, __entry->size)
);

#endif /* _P2PDMA_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
