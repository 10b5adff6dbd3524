# BPF programs, the library, the servers, the loader.  Included by the top Makefile.

# --- BPF programs and their skeletons ----------------------------------------
# The programs include our ABI header only: libbpf finds fuse_bpf_ops in the
# module's BTF at load time by name.
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -I$(CURDIR)/include \
	-I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi \
	-I/usr/include/$(shell gcc -dumpmachine)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(wildcard bpf/*.bpf.c))
TEST_BPF_OBJS := $(patsubst selftests/bpf/%.bpf.c,$(B)/testbpf/%.bpf.o,$(wildcard selftests/bpf/*.bpf.c))

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h) $(LIBBPF)
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/testbpf/%.bpf.o: selftests/bpf/%.bpf.c $(wildcard include/*.h) $(LIBBPF)
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o $(BPFTOOL)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

bpf: $(BPF_OBJS) $(patsubst %.bpf.o,%.skel.h,$(BPF_OBJS)) $(TEST_BPF_OBJS)

# --- userspace --------------------------------------------------------------
# Kernel-style objects: build/obj/<dir>/<file>.o, one "CC" line each.
CFLAGS_USER := -O2 -g -Wall -Wextra -Werror -std=gnu11 -I$(CURDIR)/include \
	-DFI_VERSION='"$(VERSION)"'
FUSE_CFLAGS = -DFUSE_USE_VERSION=34 $(shell pkg-config --cflags fuse3)
FUSE_LIBS = $(shell pkg-config --libs fuse3)
LIBBPF_CFLAGS = -I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi
LIBBPF_LIBS := $(LIBBPF) -lelf -lz
OBJ := $(B)/obj
USER_HDRS := $(wildcard include/*.h)

LOADER := $(B)/loader/fuse-iomap-bpf
SERVERS := $(B)/server/fuse-iomap-memfs $(B)/server/fuse-iomap-blockfs $(B)/server/fuse-iomap-ext4
TEST_SERVERS := $(B)/testsrv/fuse-iomap-craft $(B)/testsrv/fuse-iomap-fuzz \
	$(B)/testsrv/fuse-iomap-stripe $(B)/testsrv/fuse-iomap-ioendfail $(B)/testsrv/fi-store
EXAMPLE := $(B)/examples/fuse-iomap-example

# --- libfuse-iomap -------------------------------------------------------------
LIBFI_A := $(B)/lib/libfuse-iomap.a
LIBFI_SONAME := libfuse-iomap.so.0
LIBFI_SO := $(B)/lib/libfuse-iomap.so.$(VERSION)
LIBFI_OBJS := $(patsubst lib/%.c,$(OBJ)/lib/%.o,$(wildcard lib/*.c))

$(OBJ)/lib/%.o: lib/%.c $(wildcard lib/*.h) $(USER_HDRS) $(B)/bpf/extent_map.skel.h $(LIBBPF)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) -fPIC $(FUSE_CFLAGS) $(LIBBPF_CFLAGS) -I$(B)/bpf -c $< -o $@

$(LIBFI_A): $(LIBFI_OBJS)
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D) && rm -f $@ && ar rcs $@ $^

# libbpf goes inside the shared library, hidden by the version script.
$(LIBFI_SO): $(LIBFI_OBJS) lib/libfuse-iomap.map $(LIBBPF)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBFI_SONAME) -Wl,--version-script=lib/libfuse-iomap.map \
		-Wl,-z,defs -o $@ $(LIBFI_OBJS) $(LIBBPF_LIBS) $(FUSE_LIBS) -lpthread

.PHONY: lib
lib: $(LIBFI_A) $(LIBFI_SO)

# --- servers, each in its own directory, linking the library --------------------
$(OBJ)/server/%.o: server/%.c $(wildcard server/*/*.h) $(USER_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -c $< -o $@

srv_objs = $(patsubst %.c,$(OBJ)/%.o,$(wildcard server/$(1)/*.c))
SERVER_LIBS = $(LIBFI_A) $(FUSE_LIBS) $(LIBBPF_LIBS) -lpthread

$(B)/server/fuse-iomap-memfs: $(call srv_objs,memfs) $(LIBFI_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $(call srv_objs,memfs) $(SERVER_LIBS)

$(B)/server/fuse-iomap-blockfs: $(call srv_objs,blockfs) $(LIBFI_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $(call srv_objs,blockfs) $(SERVER_LIBS)

$(B)/server/fuse-iomap-ext4: $(call srv_objs,ext4) $(LIBFI_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $(call srv_objs,ext4) $(SERVER_LIBS) $(shell pkg-config --libs ext2fs com_err)

# --- test servers: the library plus selftests/servers/ ---------------------------
$(OBJ)/selftests/servers/%.o: selftests/servers/%.c $(wildcard selftests/servers/*.h) $(USER_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -c $< -o $@

$(B)/testsrv/fuse-iomap-stripe: $(OBJ)/selftests/servers/stripe.o $(LIBFI_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $< $(SERVER_LIBS)

$(B)/testsrv/fi-store: $(OBJ)/selftests/servers/store.o
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $<

$(B)/testsrv/fuse-iomap-%: $(OBJ)/selftests/servers/%.o $(OBJ)/selftests/servers/onefile.o $(LIBFI_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $< $(OBJ)/selftests/servers/onefile.o $(SERVER_LIBS)

# --- the example, built only against the installed library (make install-dev) ----
STAGE := $(B)/stage
$(STAGE)/.stamp: $(LIBFI_A) $(LIBFI_SO) $(USER_HDRS) lib/fuse-iomap.pc.in $(LIBBPF) mk/install.mk
	$(call msg,STAGE,$(STAGE) (make install-dev PREFIX=$(STAGE)/usr))
	$(Q)rm -rf $(STAGE)
	$(Q)$(MAKE) -s install-dev PREFIX=$(STAGE)/usr >/dev/null
	$(Q)touch $@

# The installed .pc names the staged paths; the guest runs the example with
# LD_LIBRARY_PATH=$(STAGE)/usr/lib.
STAGE_PC = PKG_CONFIG_PATH=$(STAGE)/usr/lib/pkgconfig pkg-config
$(EXAMPLE): examples/fuse-iomap-example.c $(STAGE)/.stamp
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -o $@ $< $$($(STAGE_PC) --cflags --libs fuse-iomap)

$(LOADER): $(wildcard loader/*.c loader/*.h) $(USER_HDRS) $(LIBBPF)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(LIBBPF_CFLAGS) -o $@ $(wildcard loader/*.c) $(LIBBPF_LIBS)

.PHONY: userspace
userspace: lib $(SERVERS) $(TEST_SERVERS) $(LOADER) $(EXAMPLE)

# --- bench tools: fi-offcpu (make bench-explain) -----------------------------------
BENCHTOOLS := $(B)/benchtools/fi-offcpu

$(B)/benchtools/offcpu.bpf.o: bench/offcpu.bpf.c bench/offcpu.h $(LIBBPF)
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/benchtools/offcpu.skel.h: $(B)/benchtools/offcpu.bpf.o $(BPFTOOL)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BENCHTOOLS): bench/offcpu.c bench/offcpu.h $(B)/benchtools/offcpu.skel.h $(LIBBPF)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS_USER) $(LIBBPF_CFLAGS) -Ibench -I$(B)/benchtools -o $@ $< $(LIBBPF_LIBS)

.PHONY: benchtools
benchtools: $(BENCHTOOLS)
