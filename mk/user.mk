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

CFLAGS_USER := -O2 -g -Wall -Wextra -Werror -std=gnu11 -I$(CURDIR)/include
FUSE_CFLAGS = -DFUSE_USE_VERSION=34 $(shell pkg-config --cflags fuse3)
FUSE_LIBS = $(shell pkg-config --libs fuse3)
LOADER := $(B)/loader/fuse-iomap-bpf
SERVERS := $(B)/server/fuse-iomap-memfs $(B)/server/fuse-iomap-blockfs $(B)/server/fuse-iomap-ext4

# --- userspace --------------------------------------------------------------
LIBBPF_LIBS := $(LIBBPF) -lelf -lz
BPF_USER_CFLAGS = -I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi -I$(B)/bpf -I$(CURDIR)/bpf
SERVER_COMMON := server/mount.c server/memns.c server/claim.c

$(B)/server/fuse-iomap-memfs: server/memfs.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -o $@ server/memfs.c $(SERVER_COMMON) $(FUSE_LIBS)

$(B)/server/fuse-iomap-blockfs: server/blockfs.c server/extents.c server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h bpf/*.h) $(B)/bpf/extent_map.skel.h $(LIBBPF)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) $(BPF_USER_CFLAGS) -o $@ server/blockfs.c server/extents.c server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS) $(LIBBPF_LIBS)

EXT4_SRCS := server/ext4.c server/ext4_inode.c server/ext4_dir.c server/ext4_map.c
$(B)/server/fuse-iomap-ext4: $(EXT4_SRCS) server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h include/*.h bpf/*.h) $(B)/bpf/extent_map.skel.h $(LIBBPF)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) $(BPF_USER_CFLAGS) -o $@ $(EXT4_SRCS) server/bpf_extents.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS) $(shell pkg-config --libs ext2fs com_err) $(LIBBPF_LIBS)

TEST_SERVERS := $(B)/testsrv/fuse-iomap-craft $(B)/testsrv/fuse-iomap-fuzz

$(B)/testsrv/fuse-iomap-%: selftests/servers/%.c selftests/servers/onefile.c server/iomap_session.c $(SERVER_COMMON) $(wildcard server/*.h selftests/servers/*.h include/*.h)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) $(FUSE_CFLAGS) -Iserver -o $@ $< selftests/servers/onefile.c server/iomap_session.c $(SERVER_COMMON) $(FUSE_LIBS)


$(LOADER): $(wildcard loader/*.c loader/*.h) $(wildcard include/*.h) $(LIBBPF)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_USER) -I$(LIBBPF_DIR)/include -I$(KTREE)/tools/include/uapi -o $@ $(wildcard loader/*.c) $(LIBBPF_LIBS)


.PHONY: bpf userspace
userspace: $(SERVERS) $(TEST_SERVERS) $(LOADER)
