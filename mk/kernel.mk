# The kernel pieces we build from (never committed), libbpf, bpftool and the
# module.  Included by the top Makefile.

KSRC_TARBALL := /usr/src/$(KSRC).tar.xz
# The pinned kernel's image, modules and headers, unpacked from their .debs
# by scripts/deps (never installed on the host: see deps.pins).
KDIR := $(B)/kernel
KSTAMP := $(KDIR)/.stamp
KHEADERS := $(KDIR)/usr/src/linux-headers-$(KREL)
KTREE := $(B)/ksrc
LIBBPF_DIR := $(B)/libbpf
LIBBPF := $(LIBBPF_DIR)/obj/libbpf.a
BPFTOOL := $(B)/bpftool/bpftool
KMOD := $(B)/kmod/fuse_iomap.ko

.PHONY: kmod tools kernel

# --- what deps.pins pins for this target ----------------------------------
# $(call pin_file,FILE,AWK): FILE holds the lines of deps.pins that AWK
# selects, rewritten only when they change: an edit of deps.pins for
# anything else (another target, a tool) unpacks and rebuilds nothing
# here.  (A stale tree is rebuilt by whatever make runs next, a test's
# make install in a guest too.)
define pin_file
$(1): FORCE
	$$(Q)mkdir -p $$(@D); pin="$$$$(awk '$(2)' deps.pins)"; \
	[ -f $$@ ] && [ "$$$$(cat $$@)" = "$$$$pin" ] || echo "$$$$pin" > $$@
endef
KERNEL_PIN := $(B)/kernel.pin
KSRC_PIN := $(B)/ksrc.pin
$(eval $(call pin_file,$(KERNEL_PIN),$$$$1 == "$(KTARGET):"))
$(eval $(call pin_file,$(KSRC_PIN),$$$$1 == "$(T_SUITE):" && $$$$2 == "$(KSRC)"))

.PHONY: FORCE
FORCE:

# --- the pinned kernel, unpacked from its .debs ------------------------------
# make deps does this too; here so that a build after distclean needs no
# root.  The script does nothing when the stamp's list matches deps.pins
# (and leaves its time alone, which would rebuild the module).
$(KSTAMP): $(KERNEL_PIN) scripts/deps
	$(call msg,KERNEL,kernel (fetch and unpack the pinned .debs into build/kernel; about 1 min))
	$(Q)scripts/deps --kernel $(if $(filter 1,$(V)),,>/dev/null)
	$(Q)touch $@

kernel: $(KSTAMP)

# --- the kernel tree pieces we build tools from ------------------------------
$(KTREE)/.stamp: $(KSRC_TARBALL) $(KSRC_PIN)
	$(call msg,UNPACK,ksrc (tools, headers, scripts from $(KSRC); about 30 s))
	$(Q)rm -rf $(KTREE) && mkdir -p $(KTREE)
	$(Q)tar -xJf $(KSRC_TARBALL) -C $(KTREE) --strip-components=1 \
		$(KSRC)/tools $(KSRC)/include \
		$(KSRC)/arch/x86/include $(KSRC)/scripts \
		$(KSRC)/kernel/bpf $(KSRC)/Makefile
	$(Q)touch $@

# --- libbpf (static) and bpftool, from the same tree -----------------------
# -fPIC: libbpf also goes into our shared library.  The touch: libbpf's own
# make leaves libbpf.a alone when its sources have not changed.
$(LIBBPF): $(KTREE)/.stamp mk/kernel.mk
	$(call msg,LIBBPF,libbpf.a (about 30 s))
	$(Q)mkdir -p $(LIBBPF_DIR)/obj
	$(Q)$(MAKE) $(if $(filter 1,$(V)),V=1,-s) -C $(KTREE)/tools/lib/bpf BUILD_STATIC_ONLY=1 EXTRA_CFLAGS=-fPIC \
		OUTPUT=$(LIBBPF_DIR)/obj/ DESTDIR=$(LIBBPF_DIR) prefix= \
		$(LIBBPF_DIR)/obj/libbpf.a install_headers $(if $(filter 1,$(V)),,>/dev/null)
	$(Q)touch $@

# No LLVM/libbfd disassembler: we need bpftool for skeletons, BTF and
# struct_ops inspection, and this keeps it from linking whatever LLVM
# happens to own /usr/bin/llvm-config.
# Our patches (bpftool/patches/) go on pristine copies of the files they touch.
BPFTOOL_PATCHES := $(wildcard bpftool/patches/*.patch)
$(BPFTOOL): $(KTREE)/.stamp $(BPFTOOL_PATCHES)
	$(call msg,BPFTOOL,bpftool (about 1 min))
	$(Q)mkdir -p $(B)/bpftool
	$(Q)cd $(KTREE) && for f in $$(sed -n 's|^+++ b/||p' $(addprefix $(CURDIR)/,$(BPFTOOL_PATCHES)) | cut -f1); do \
		[ -f $$f.pristine ] || cp $$f $$f.pristine; cp $$f.pristine $$f; done
	$(Q)for p in $(BPFTOOL_PATCHES); do patch -s -p1 -d $(KTREE) < $$p || exit 1; done
	$(Q)$(MAKE) $(if $(filter 1,$(V)),V=1,-s) -C $(KTREE)/tools/bpf/bpftool OUTPUT=$(B)/bpftool/ \
		CLANG=$(CLANG) LLVM_STRIP=$(LLVM_STRIP) \
		feature-llvm=0 feature-libbfd=0 feature-libbfd-liberty=0 \
		feature-libbfd-liberty-z=0 $(if $(filter 1,$(V)),,>/dev/null 2>&1) || { \
		echo "bpftool failed to build; V=1 shows why" >&2; exit 1; }

tools: $(LIBBPF) $(BPFTOOL)

# --- the module -------------------------------------------------------------
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/patches/$(KSRC)/*) kmod/Kbuild kmod/prepare-src

# Module BTF (which our struct_ops type needs) comes from pahole with
# --btf_base $(KHEADERS)/vmlinux, the BTF-only vmlinux Debian's headers
# package ships: the pinned kernel's, not the running one's.  Kbuild only
# warns when it is missing, so check the result.
$(KMOD): $(KMOD_SRCS) include/fuse_iomap_bpf.h $(KSRC_TARBALL) $(KSTAMP) VERSION
	$(call msg,KMOD,fuse_iomap.ko (about 1 min))
	$(Q)kmod/prepare-src $(KSRC_TARBALL) $(B)/kmod
	$(Q)$(MAKE) $(if $(filter 1,$(V)),V=1,-s) -C $(KHEADERS) M=$(B)/kmod FI_INCLUDE=$(CURDIR)/include \
		FI_VERSION=$(VERSION) modules
	$(Q)readelf -S $@ | grep -q '\.BTF ' || { echo "$@ has no BTF section (see $(KHEADERS)/vmlinux)" >&2; rm -f $@; exit 1; }

kmod: $(KMOD)
