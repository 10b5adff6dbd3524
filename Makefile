# fuse-iomap-bpf: top-level build.  See README.md.
#
#   make deps    install the pinned Debian packages (root; idempotent)
#   make all     module, libbpf, bpftool, userspace
#   make check   boot the guest and run every test (T="a b" for some)
#   make check-long  the same, with the stress tests' long variants
#   make demo    boot the guest and show it working
#   make clean   remove build/

KREL := $(shell awk '$$1 == "KREL" { print $$2 }' deps.pins)
VERSION := $(shell cat VERSION)
KSRC_TARBALL := /usr/src/linux-source-6.12.tar.xz
KHEADERS := /usr/src/linux-headers-$(KREL)
CLANG := clang-19
LLVM_STRIP := llvm-strip-19

B := $(CURDIR)/build
KTREE := $(B)/ksrc
LIBBPF_DIR := $(B)/libbpf
LIBBPF := $(LIBBPF_DIR)/obj/libbpf.a
BPFTOOL := $(B)/bpftool/bpftool
KMOD := $(B)/kmod/fuse_iomap.ko

CFLAGS_USER := -O2 -g -Wall -Wextra -Werror -std=gnu11 -I$(CURDIR)/include
FUSE_CFLAGS = -DFUSE_USE_VERSION=34 $(shell pkg-config --cflags fuse3)
FUSE_LIBS = $(shell pkg-config --libs fuse3)

LOADER := $(B)/loader/fuse-iomap-bpf
SERVERS := $(B)/server/fuse-iomap-memfs $(B)/server/fuse-iomap-blockfs $(B)/server/fuse-iomap-ext4

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps check check-long demo bench bench-seqread clean kmod userspace tools bpf

all: kmod tools bpf userspace

deps:
	@scripts/deps

# --- the kernel tree pieces we build tools from (never committed) ---------
$(KTREE)/.stamp: $(KSRC_TARBALL) deps.pins
	rm -rf $(KTREE) && mkdir -p $(KTREE)
	tar -xJf $(KSRC_TARBALL) -C $(KTREE) --strip-components=1 \
		linux-source-6.12/tools linux-source-6.12/include \
		linux-source-6.12/arch/x86/include linux-source-6.12/scripts \
		linux-source-6.12/kernel/bpf linux-source-6.12/Makefile
	touch $@

# --- libbpf (static) and bpftool, from the same tree -----------------------
$(LIBBPF): $(KTREE)/.stamp
	mkdir -p $(LIBBPF_DIR)/obj
	$(MAKE) -s -C $(KTREE)/tools/lib/bpf BUILD_STATIC_ONLY=1 \
		OUTPUT=$(LIBBPF_DIR)/obj/ DESTDIR=$(LIBBPF_DIR) prefix= \
		$(LIBBPF_DIR)/obj/libbpf.a install_headers >/dev/null

# No LLVM/libbfd disassembler: we need bpftool for skeletons, BTF and
# struct_ops inspection, and this keeps it from linking whatever LLVM
# happens to own /usr/bin/llvm-config.
# Our patches (bpftool/patches/) go on pristine copies of the files they touch.
BPFTOOL_PATCHES := $(wildcard bpftool/patches/*.patch)
$(BPFTOOL): $(KTREE)/.stamp $(BPFTOOL_PATCHES)
	mkdir -p $(B)/bpftool
	cd $(KTREE) && for f in $$(sed -n 's|^+++ b/||p' $(addprefix $(CURDIR)/,$(BPFTOOL_PATCHES)) | cut -f1); do \
		[ -f $$f.pristine ] || cp $$f $$f.pristine; cp $$f.pristine $$f; done
	for p in $(BPFTOOL_PATCHES); do patch -s -p1 -d $(KTREE) < $$p || exit 1; done
	$(MAKE) -s -C $(KTREE)/tools/bpf/bpftool OUTPUT=$(B)/bpftool/ \
		CLANG=$(CLANG) LLVM_STRIP=$(LLVM_STRIP) \
		feature-llvm=0 feature-libbfd=0 feature-libbfd-liberty=0 \
		feature-libbfd-liberty-z=0 >/dev/null

tools: $(LIBBPF) $(BPFTOOL)

# --- the module -------------------------------------------------------------
KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/patches/*.patch) kmod/Kbuild kmod/prepare-src

$(KMOD): $(KMOD_SRCS) $(wildcard include/*.h) $(KSRC_TARBALL) VERSION
	kmod/prepare-src $(KSRC_TARBALL) $(B)/kmod
	$(MAKE) -s -C $(KHEADERS) M=$(B)/kmod FI_INCLUDE=$(CURDIR)/include \
		FI_VERSION=$(VERSION) modules

kmod: $(KMOD)

# --- BPF programs and their skeletons ----------------------------------------
# The programs include our ABI header only: libbpf finds fuse_bpf_ops in the
# module's BTF at load time by name.
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -I$(CURDIR)/include \
	-I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi \
	-I/usr/include/$(shell gcc -dumpmachine)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(wildcard bpf/*.bpf.c))
TEST_BPF_OBJS := $(patsubst selftests/bpf/%.bpf.c,$(B)/testbpf/%.bpf.o,$(wildcard selftests/bpf/*.bpf.c))

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h) $(LIBBPF)
	mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/testbpf/%.bpf.o: selftests/bpf/%.bpf.c $(wildcard include/*.h) $(LIBBPF)
	mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o $(BPFTOOL)
	$(BPFTOOL) gen skeleton $< > $@

bpf: $(BPF_OBJS) $(patsubst %.bpf.o,%.skel.h,$(BPF_OBJS)) $(TEST_BPF_OBJS)

# --- userspace --------------------------------------------------------------
LIBBPF_LIBS := $(LIBBPF) -lelf -lz
BPF_USER_CFLAGS = -I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi -I$(B)/bpf -I$(CURDIR)/bpf
SERVER_COMMON := server/mount.c server/memns.c server/claim.c

$(B)/server/fuse-iomap-memfs: server/memfs.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -o $@ server/memfs.c $(SERVER_COMMON) $(FUSE_LIBS)

$(B)/server/fuse-iomap-blockfs: server/blockfs.c server/extents.c server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h bpf/*.h) $(B)/bpf/extent_map.skel.h $(LIBBPF)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) $(BPF_USER_CFLAGS) -o $@ server/blockfs.c server/extents.c server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS) $(LIBBPF_LIBS)

EXT4_SRCS := server/ext4.c server/ext4_inode.c server/ext4_dir.c server/ext4_map.c
$(B)/server/fuse-iomap-ext4: $(EXT4_SRCS) server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h bpf/*.h) $(B)/bpf/extent_map.skel.h $(LIBBPF)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) $(BPF_USER_CFLAGS) -o $@ $(EXT4_SRCS) server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS) $(shell pkg-config --libs ext2fs com_err) $(LIBBPF_LIBS)

TEST_SERVERS := $(B)/testsrv/fuse-iomap-craft $(B)/testsrv/fuse-iomap-fuzz

$(B)/testsrv/fuse-iomap-%: selftests/servers/%.c selftests/servers/onefile.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h selftests/servers/*.h include/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -Iserver -o $@ $< selftests/servers/onefile.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS)


$(LOADER): $(wildcard loader/*.c loader/*.h) $(wildcard include/*.h) $(LIBBPF)
	mkdir -p $(@D)
	$(CC) $(CFLAGS_USER) -I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi -o $@ $(wildcard loader/*.c) $(LIBBPF_LIBS)

userspace: $(SERVERS) $(TEST_SERVERS) $(LOADER)

# --- the guest --------------------------------------------------------------
check: deps
	$(MAKE) -j$$(nproc) all
	selftests/run $(if $(T),$(T))

check-long: deps
	$(MAKE) -j$$(nproc) all
	STRESS_LONG=1 selftests/run $(if $(T),$(T))

demo: deps
	$(MAKE) -j$$(nproc) all
	selftests/vm/boot --timeout 300 -- demo/demo.sh

# Side-by-side benchmark (one boot): build/bench/results.{tsv,md}, ratios.png.
bench: deps
	$(MAKE) -j$$(nproc) all
	selftests/vm/boot --timeout 3600 -- bench/bench.sh
	python3 bench/report.py $(B)/bench

# Sequential read MB/s: kernel ext4, fuse-iomap-ext4, fuse2fs (one boot).
bench-seqread: deps
	$(MAKE) -j$$(nproc) all
	selftests/vm/boot --timeout 900 -- bench/seqread.sh

clean:
	rm -rf $(B)
