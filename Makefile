# fuse-iomap-bpf: top-level build.  See README.md and doc/building.md;
# 'make help' lists the targets.
#
# The rules live in mk/: kernel.mk (the unpacked kernel pieces, libbpf,
# bpftool, the module), user.mk (the library, servers, loader, BPF
# programs), install.mk (install, uninstall, DKMS).  Build lines are quiet
# ("  CC  lib/serve.o"); V=1 shows the commands.  The build runs one job per
# core unless -j is given.

# The kernel target (deps.pins; scripts/target --list): KTARGET=NAME on the
# command line or in the environment, else deps.pins' DEFAULT.  A target
# whose Debian release is not this machine's builds in its own userland
# root (ROOT, made by make deps): the build goals below run there, through
# scripts/in-root, where the same Makefile finds itself at home.
TARGET_VARS := $(shell scripts/target $(KTARGET))
$(foreach v,$(TARGET_VARS),$(eval T_$(v)))
ifeq ($(T_KREL),)
$(error no kernel target '$(KTARGET)' (scripts/target --list shows them))
endif
export KTARGET := $(T_KTARGET)
KREL := $(T_KREL)
ROOT := $(T_ROOT)
KSRC := $(T_KSRC)
VERSION := $(shell cat VERSION)
CLANG := clang-19
LLVM_STRIP := llvm-strip-19

B := $(CURDIR)/$(T_BUILD)

ifeq ($(MAKELEVEL)$(filter -j%,$(MAKEFLAGS)),0)
MAKEFLAGS += -j$(shell nproc)
endif
MAKEFLAGS += --no-print-directory

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
# $(call msg,TAG,WHAT): one kernel-style build line.
msg = @printf '  %-8s %s\n' '$(1)' '$(patsubst $(B)/%,%,$(patsubst $(B)/obj/%,%,$(2)))';
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all help deps check check-long check-kernels check-debug demo bench bench-quick bench-explain bench-seqread bench-journal bench-mapping clean distclean

ifeq ($(ROOT),)
all: kmod tools bpf userspace benchtools

include mk/kernel.mk
include mk/user.mk
include mk/install.mk
include mk/debug.mk
else
# Built in the target's userland, as on a machine that runs it.
IN_ROOT_GOALS := all kernel tools kmod bpf lib userspace benchtools
.PHONY: $(IN_ROOT_GOALS)
$(IN_ROOT_GOALS):
	+$(Q)scripts/in-root $(ROOT) $(MAKE) $@ KTARGET=$(KTARGET)
print-%:
	$(Q)scripts/in-root $(ROOT) $(MAKE) -s $@ KTARGET=$(KTARGET)

install install-dev uninstall install-dkms uninstall-dkms debug-kernel debug-kmod:
	@echo "make $@: KTARGET=$(KTARGET) is for Debian $(T_SUITE) machines, and this one is not: its builds and tests run in $(ROOT)" >&2; exit 2
endif

help:
	@echo 'fuse-iomap-bpf $(VERSION), kernel target $(KTARGET): $(KREL), Debian $(T_SUITE) userland'
	@echo
	@echo '  make deps          install the pinned Debian packages and unpack the pinned'
	@echo '                     kernel into build/kernel (root; idempotent)'
	@echo '  make all           everything below: kernel tools kmod bpf userspace'
	@echo '  make kernel        only fetch and unpack the pinned kernel into build/kernel'
	@echo '  make tools         libbpf and bpftool'
	@echo '  make kmod          fuse_iomap.ko'
	@echo '  make bpf           the BPF programs and their skeletons'
	@echo '  make lib           libfuse-iomap (.a, .so)'
	@echo '  make userspace     the library, servers, test servers, example, loader'
	@echo '  make benchtools    fi-offcpu, the off-CPU and on-CPU profiler of make bench-explain'
	@echo '  make demo          boot a guest and show it working'
	@echo '  make check         build, boot two guests, run every test (T="a b" for some)'
	@echo '  make check-long    the same, with the stress tests'"'"' long variants'
	@echo '  make check-kernels the core tests (selftests/CORE) on every other kernel target,'
	@echo '                     then DKMS for two kernels (run by .ci/run after make check)'
	@echo '  make check-debug   the guest tests on a lockdep/KASAN build of the pinned'
	@echo '                     kernel (built once into build/debug; about an hour)'
	@echo '  make debug-kernel  only build that kernel; make debug-kmod the module for it'
	@echo '  make bench         side-by-side benchmark against the kernel'"'"'s ext4'
	@echo '  make bench-quick   the headline cells, ext4 against ours (paired ratios), about 25 min'
	@echo '  make bench-explain where a write'"'"'s time goes (on/off-CPU, stacks): ext4 against ours'
	@echo '  make bench-seqread sequential read MB/s: ext4, fuse-iomap-ext4, fuse2fs'
	@echo '  make bench-journal fsync-heavy ops/s: ext4, fuse2fs, ours with the journal on and off'
	@echo '  make bench-mapping read latency and ns per lookup against 10 .. 1,000,000 extents'
	@echo '  make install       binaries, library, header, .pc, BPF objects, mount helpers,'
	@echo '                     man pages'
	@echo '                     (PREFIX=$(PREFIX), DESTDIR=)'
	@echo '  make install-dev   only the library, headers, .pc and libbpf.a'
	@echo '  make uninstall     remove what make install put there'
	@echo '  make install-dkms  register the module with DKMS, build and install it for $(KREL)'
	@echo '                     and every other supported kernel whose headers are installed'
	@echo '  make uninstall-dkms  remove it from DKMS'
	@echo '  make clean         remove the build, keep the unpacked kernel pieces'
	@echo '  make distclean     remove all of build/'
	@echo '  make help          this list'
	@echo
	@echo '  V=1 shows the build commands.'

deps:
	@scripts/deps

# --- the guest --------------------------------------------------------------
check: deps
	$(Q)$(MAKE) all
	selftests/run $(if $(T),$(T))

check-long: deps
	$(Q)$(MAKE) all
	STRESS_LONG=1 selftests/run $(if $(T),$(T))

# The core tests (selftests/CORE) on every kernel target but this one,
# each a test of its own (kernels_core_NAME, NAME without its '-':
# selftests/kernels-core does the target's deps, build and guests), then
# install_dkms_two_kernels (DKMS on Debian 13 for deb13 and deb13-bpo).
OTHER_TARGETS = $(filter-out $(KTARGET),$(shell scripts/target --kernels | awk '{ print $$1 }'))
check-kernels: deps
	selftests/run $(foreach t,$(OTHER_TARGETS),kernels_core_$(subst -,,$(t))) install_dkms_two_kernels

# Not in .ci/run: the kernel build alone takes about an hour.
check-debug: deps
	$(Q)$(MAKE) all debug-kmod
	FI_DEBUG=1 selftests/run $(if $(T),$(T))

demo: deps
	$(Q)$(MAKE) all
	selftests/vm/boot --timeout 300 -- demo/demo.sh

# Side-by-side benchmark (one boot): build/bench/results.{tsv,md}, ratios.png.
# Its knobs (see bench/bench.sh) reach the guest only when set here.
BENCH_KNOBS := ROUNDS RUNTIME QD_RUNTIME RAMP SLICES NOSIMPLE MAPPING BENCH_CELLS BENCH_SYSTEMS
# An 8 GiB guest (VM_MEM, read by selftests/vm/boot): /tmp holds four image copies.
bench: deps
	$(Q)$(MAKE) all
	VM_MEM=$${VM_MEM:-8G} selftests/vm/boot --timeout 10800 $(foreach v,$(BENCH_KNOBS),$(if $($(v)),--env $(v)=$($(v)))) \
		-- bench/bench.sh
	python3 bench/report.py $(B)/bench
	selftests/vm/boot --timeout 3600 -- bench/journal.sh

# The headline cells, the kernel's ext4 against fuse-iomap-ext4 --bpf only,
# in two boots of about half an hour in all under TCG: build/bench/results.*
# as make bench writes them (paired ratios beside the ratio of medians),
# then the journal's cells.  ROUNDS (default 3) and RUNTIME (default 8 s
# per round and system) reach both.
QUICK_CELLS := randwrite_4k_direct:psync:1:1,randwrite_4k_direct:psync:1:4,seqwrite_4k_buffered:psync:1:1,$\
	randwrite_4k_direct_prealloc:psync:1:1,append_4k_buffered_fsync:psync:1:1,$\
	seqwrite_1m_buffered:psync:1:1,randread_4k_direct_frag:psync:1:1,$\
	randread_4k_direct:io_uring:32:1,randread_4k_direct:io_uring:32:4
bench-quick: deps
	$(Q)$(MAKE) all
	VM_MEM=$${VM_MEM:-8G} selftests/vm/boot --timeout 3600 --env BENCH_CELLS=$(QUICK_CELLS) \
		--env BENCH_SYSTEMS=ext4,iomap_bpf --env NOSIMPLE=0 --env MAPPING=0 --env ROUNDS=$(or $(ROUNDS),3) \
		--env RUNTIME=$(or $(RUNTIME),8) -- bench/bench.sh
	python3 bench/report.py $(B)/bench
	selftests/vm/boot --timeout 1800 --env ROUNDS=$(or $(ROUNDS),3) --env APPENDS=2048 --env FILES=1000 \
		-- bench/journal.sh

# The journal's cost: fsync_4k_append and metadata_create_unlink (one boot).
bench-journal: deps
	$(Q)$(MAKE) all
	selftests/vm/boot --timeout 3600 -- bench/journal.sh

# Where a write's time goes, ext4 against fuse-iomap-ext4 --bpf (one boot):
# build/bench/explain.{json,md}.  Knobs: IOS FILES TOP CELLS EXPLAIN_OUT
# (bench/explain.sh).
EXPLAIN_KNOBS := IOS FILES TOP CELLS EXPLAIN_OUT
bench-explain: deps
	$(Q)$(MAKE) all
	selftests/vm/boot --timeout 3600 $(foreach v,$(EXPLAIN_KNOBS),$(if $($(v)),--env $(v)=$($(v)))) \
		-- bench/explain.sh

# The mapping cost (one boot): extent_map with 10 .. 1,000,000 extents,
# interleaved rounds: build/bench/mapping.tsv.  ROUNDS (default 5) and
# RUNTIME (default 4 s per round and N).
bench-mapping: deps
	$(Q)$(MAKE) all
	$(Q)mkdir -p $(B)/bench
	selftests/vm/boot --timeout 1800 --env ROUNDS=$(or $(ROUNDS),5) \
		-- bench/mapping.sh $(B) /tmp/mapping $(B)/bench/mapping.tsv $(or $(RUNTIME),4)

# Sequential read MB/s: kernel ext4, fuse-iomap-ext4, fuse2fs (one boot).
bench-seqread: deps
	$(Q)$(MAKE) all
	selftests/vm/boot --timeout 900 -- bench/seqread.sh

# The unpacked kernel pieces and the debug kernel (KEEP) take minutes, or
# an hour, to make again.
KEEP := ksrc kernel debug
clean:
	$(Q)if [ -d $(B) ]; then find $(B) -mindepth 1 -maxdepth 1 $(foreach k,$(KEEP),! -name $(k)) -exec rm -rf {} +; fi

distclean:
	rm -rf $(B)
