# make check-debug: the pinned kernel's source built with lockdep, KASAN
# and friends (scripts/debug-kernel, options in mk/debug.config), the
# module built against it, and the guest tests run on it.  Included by the
# top Makefile.  Everything lives under build/debug, apart from the normal
# build: src/ (the extracted tarball), obj/ (the kernel build), root/ (what
# the guest boots), kmod/ (the module).

DEBUG_DIR := $(B)/debug
DEBUG_STAMP := $(DEBUG_DIR)/.stamp
DEBUG_KMOD := $(DEBUG_DIR)/kmod/fuse_iomap.ko

.PHONY: debug-kernel debug-kmod check-debug

# Rebuilt only when an input changes: the tarball and its pin, the Debian
# config it starts from (build/kernel, and its pins), our options, the
# script.
$(DEBUG_STAMP): scripts/debug-kernel mk/debug.config $(KSRC_PIN) $(KERNEL_PIN) $(KSRC_TARBALL) $(KSTAMP)
	$(call msg,DEBUGK,debug kernel (lockdep, KASAN; an hour or more on 2 cores; log in build/debug/build.log))
	$(Q)mkdir -p $(DEBUG_DIR)
	$(Q)scripts/debug-kernel $(DEBUG_DIR) > $(DEBUG_DIR)/build.log 2>&1 || { \
		tail -n 20 $(DEBUG_DIR)/build.log >&2; echo "debug kernel build failed: see $(DEBUG_DIR)/build.log" >&2; exit 1; }
	$(Q)touch $@

debug-kernel: $(DEBUG_STAMP)

# As $(KMOD), against the debug kernel's build tree (its vmlinux gives the
# module's BTF its base).
$(DEBUG_KMOD): $(KMOD_SRCS) include/fuse_iomap_bpf.h $(KSRC_TARBALL) $(DEBUG_STAMP) VERSION
	$(call msg,KMOD,debug/kmod/fuse_iomap.ko (about 2 min))
	$(Q)kmod/prepare-src $(KSRC_TARBALL) $(DEBUG_DIR)/kmod
	$(Q)nice -n 19 $(MAKE) $(if $(filter 1,$(V)),V=1,-s) -C $(DEBUG_DIR)/obj M=$(DEBUG_DIR)/kmod FI_INCLUDE=$(CURDIR)/include \
		FI_VERSION=$(VERSION) modules
	$(Q)readelf -S $@ | grep -q '\.BTF ' || { echo "$@ has no BTF section" >&2; rm -f $@; exit 1; }

debug-kmod: $(DEBUG_KMOD)
