// SPDX-License-Identifier: GPL-2.0
/*
 * nvmet-p2p: our glue, linked into the kernel's own nvmet.ko when it is
 * rebuilt from the target kernel's source (scripts/stage-nvmet). The patch
 * series in patches/<series>/ keeps its hooks in nvmet small and calls in
 * here, where the logic lives.
 */

#include <linux/module.h>
