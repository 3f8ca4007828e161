# SPDX-License-Identifier: GPL-2.0
#
# p2pdma-dkms: the user's entry points. Kbuild reads ./Kbuild, not this file.
#
#   make [KVER=<release>] [KDIR=<headers>] [KSRC=<tree>] [BUILD=<dir>] [W=1] [C=2]
#   make dkms-install | dkms-remove [KVER=<release>]
#   make deb                 the Debian packages, into build/deb/
#   make check | test | demo | bench | clean

# The target kernel: KVER=, or KERNELRELEASE= (which dkms appends), or the
# newest Debian 6.1/6.12 kernel whose headers are installed.
ifndef KVER
KVER := $(or $(KERNELRELEASE),$(shell scripts/kernels default 2>/dev/null))
endif
KDIR ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build/$(KVER)

.PHONY: all modules tools clean check test demo bench dkms-install dkms-remove deb

all: modules tools

# tools/p2pmem-copy, for the tests, the demo and rig operators.
tools:
	$(MAKE) -C tools

# Our sources are copied into build/<release>/ next to the staged NVMe PCI
# driver and nvmet family, so that one M= build per kernel sees them all
# and several kernels can be built side by side. The test modules come
# along where they exist: in a checkout, not in the DKMS source.
modules:
	@test -n "$(KVER)" || scripts/kernels default >/dev/null
	@scripts/kernel-info $(KDIR) $(KVER) >/dev/null
	@mkdir -p $(BUILD)
	@cp -pR Kbuild dkms.conf p2pdma include $(BUILD)/
	@if [ -d tests/kmod ]; then mkdir -p $(BUILD)/tests && cp -pR tests/kmod tests/kunit $(BUILD)/tests/; fi
	@scripts/stage-nvme host $(KDIR) $(BUILD)/nvme-p2p
	@scripts/stage-nvme target $(KDIR) $(BUILD)/nvmet-p2p
	$(MAKE) -C $(KDIR) M=$(BUILD) modules

clean:
	rm -rf build
	$(MAKE) -C tools clean

check:
	scripts/check

test:
	scripts/setup
	tests/run --check --install

demo:
	scripts/setup
	tests/demo

bench:
	scripts/setup
	tests/bench

dkms-install:
	@test -n "$(KVER)" || scripts/kernels default >/dev/null
	scripts/dkms install $(KVER)

dkms-remove:
	scripts/dkms remove

# p2pdma-dkms and p2pdma-tools (debian/), built from a copy of the
# checkout; scripts/setup installs the build dependencies.
deb:
	scripts/build-deb build/deb
