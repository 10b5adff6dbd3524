# make install, install-dev, uninstall, install-dkms, uninstall-dkms.
# Included by the top Makefile (B, VERSION, KREL, Q, msg; KHEADERS and
# LIBBPF from kernel.mk; BPF_OBJS, SERVERS and LOADER from user.mk).
# doc/install.md tells users about them.
#
# make install builds nothing but the files it installs, strips nothing,
# and leaves the module alone: make install-dkms hands that to DKMS.
# PREFIX, DESTDIR and the directories below must not contain white space
# or ':'.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
# Ours alone: libbpf.a for static users of the library, the BPF objects,
# and the list of directories install created (for uninstall).
PKGLIBDIR ?= $(LIBDIR)/fuse-iomap
# mount(8) runs "mount.TYPE" helpers from /sbin, /sbin/fs.d and /sbin/fs
# only: libmount has that list compiled in and ignores PATH and PREFIX.
# So the helpers go to /sbin whatever PREFIX is (DESTDIR still applies),
# and they find their servers in $(BINDIR), written into them at install.
SBINDIR ?= /sbin

LIBNAME := libfuse-iomap
SONAME := $(LIBNAME).so.0
# The file types the helpers mount: mount -t fuseiomap.<server>.
MOUNT_HELPERS := ext4 blockfs
# The man pages, doc/man/NAME.SECTION, with @VERSION@ filled in.  The
# helpers share one page, mount.fuseiomap(8), which their names link to.
MAN_PAGES := $(wildcard doc/man/*.[378])
man_dest = $(MANDIR)/man$(patsubst .%,%,$(suffix $(1)))/$(notdir $(1))

# --- the one list of installed files ------------------------------------------
# Each entry is KIND:SOURCE:DESTINATION:MODE, DESTINATION without DESTDIR.
#   f  copy SOURCE
#   s  copy SOURCE with @PREFIX@ @BINDIR@ @LIBDIR@ @INCLUDEDIR@ @VERSION@
#      replaced (the .pc file, the mount helpers)
#   l  a symbolic link to SOURCE (MODE unused)
# install-dev installs INSTALL_DEV; install installs INSTALL_ALL; uninstall
# removes INSTALL_ALL, whichever of the two was run.
INSTALL_DEV := \
	f:$(B)/lib/$(LIBNAME).a:$(LIBDIR)/$(LIBNAME).a:644 \
	f:$(B)/lib/$(LIBNAME).so.$(VERSION):$(LIBDIR)/$(LIBNAME).so.$(VERSION):644 \
	l:$(LIBNAME).so.$(VERSION):$(LIBDIR)/$(SONAME):- \
	l:$(SONAME):$(LIBDIR)/$(LIBNAME).so:- \
	$(foreach h,$(wildcard include/*.h),f:$(h):$(INCLUDEDIR)/$(notdir $(h)):644) \
	s:lib/fuse-iomap.pc.in:$(PKGCONFIGDIR)/fuse-iomap.pc:644 \
	f:$(LIBBPF):$(PKGLIBDIR)/libbpf.a:644

INSTALL_ALL := $(INSTALL_DEV) \
	$(foreach p,$(SERVERS) $(LOADER),f:$(p):$(BINDIR)/$(notdir $(p)):755) \
	$(foreach o,$(BPF_OBJS),f:$(o):$(PKGLIBDIR)/bpf/$(notdir $(o)):644) \
	$(foreach t,$(MOUNT_HELPERS),s:mount/mount.fuseiomap:$(SBINDIR)/mount.fuseiomap.$(t):755) \
	$(foreach m,$(MAN_PAGES),s:$(m):$(call man_dest,$(m)):644) \
	$(foreach t,$(MOUNT_HELPERS),l:mount.fuseiomap.8:$(MANDIR)/man8/mount.fuseiomap.$(t).8:-)

# The sources that must exist (links have none).
install_srcs = $(foreach e,$(filter f:% s:%,$(1)),$(word 2,$(subst :, ,$(e))))

# Directories install created, one a line, without DESTDIR.
INSTALL_DIRS_LIST := $(PKGLIBDIR)/installed-dirs

SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g'

# $(call do_install,ENTRIES[,nolink]): install them under $(DESTDIR), then
# run ldconfig unless nolink is given.  Each missing directory is created
# and remembered in INSTALL_DIRS_LIST, so that uninstall removes the
# directories install made and no other.
define do_install
	$(Q)set -e; d='$(DESTDIR)'; new=''; \
	for e in $(1); do \
		kind=$${e%%:*}; r=$${e#*:}; src=$${r%%:*}; r=$${r#*:}; dst=$${r%%:*}; mode=$${r#*:}; \
		dir=$$(dirname "$$dst"); p=$$dir; \
		while [ "$$p" != / ] && [ ! -d "$$d$$p" ]; do new="$$new $$p"; p=$$(dirname "$$p"); done; \
		mkdir -p "$$d$$dir"; \
		printf '  %-8s %s\n' INSTALL "$$dst"; \
		case $$kind in \
		f) install -m "$$mode" "$$src" "$$d$$dst" ;; \
		s) $(SUBST) "$$src" > "$$d$$dst.tmp" && chmod "$$mode" "$$d$$dst.tmp" && mv -f "$$d$$dst.tmp" "$$d$$dst" ;; \
		l) ln -sfn "$$src" "$$d$$dst" ;; \
		esac; \
	done; \
	mkdir -p "$$d$(PKGLIBDIR)"; \
	{ [ ! -f "$$d$(INSTALL_DIRS_LIST)" ] || cat "$$d$(INSTALL_DIRS_LIST)"; \
	  for p in $$new; do echo "$$p"; done; } | sort -u > "$$d$(INSTALL_DIRS_LIST).tmp"; \
	mv -f "$$d$(INSTALL_DIRS_LIST).tmp" "$$d$(INSTALL_DIRS_LIST)"
	$(if $(DESTDIR)$(2),,$(LDCONFIG))
endef

# Into the running system (no DESTDIR), as root: refresh ld.so's cache for
# the new library.  Not for install-dev, which stages.
LDCONFIG = $(Q)if [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

.PHONY: install install-dev uninstall install-dkms uninstall-dkms

install: $(call install_srcs,$(INSTALL_ALL))
	$(call do_install,$(INSTALL_ALL))

install-dev: $(call install_srcs,$(INSTALL_DEV))
	$(call do_install,$(INSTALL_DEV),nolink)

# Removes every file of INSTALL_ALL, then the directories install created
# (deepest first) if they are empty, and our own PKGLIBDIR.
uninstall:
	$(Q)set -e; d='$(DESTDIR)'; \
	for e in $(INSTALL_ALL); do \
		r=$${e#*:}; r=$${r#*:}; dst=$${r%%:*}; \
		if [ -e "$$d$$dst" ] || [ -L "$$d$$dst" ]; then \
			printf '  %-8s %s\n' RM "$$dst"; rm -f "$$d$$dst"; \
		fi; \
	done; \
	dirs=''; \
	if [ -f "$$d$(INSTALL_DIRS_LIST)" ]; then \
		dirs=$$(cat "$$d$(INSTALL_DIRS_LIST)"); rm -f "$$d$(INSTALL_DIRS_LIST)"; \
	fi; \
	for p in $$(printf '%s\n' $$dirs $(PKGLIBDIR)/bpf $(PKGLIBDIR) | sort -ru); do \
		[ ! -d "$$d$$p" ] || rmdir "$$d$$p" 2>/dev/null || true; \
	done
	$(if $(DESTDIR),,$(LDCONFIG))

# 'make -s print-VAR' prints a variable (the tests ask for KHEADERS).
print-%:
	@echo '$($*)'

# --- DKMS -----------------------------------------------------------------------
# DKMS finds sources only in /usr/src/NAME-VERSION (its source_tree).  It
# builds from the kernel's own linux-source tarball (kmod/prepare-src, as
# the module rule in kernel.mk does) and only for the kernels of deps.pins'
# targets: the module is one release's fs/fuse plus our patches, so any
# other kernel is refused (kmod/dkms.conf.in says so, with the list).
#
# make install-dkms removes an earlier registration of this VERSION (DKMS
# would keep its old build of the same version), copies the sources,
# registers them (dkms add), then builds and installs the module (dkms
# install) for every supported kernel whose headers are installed
# (/lib/modules/RELEASE/build), and for KREL in any case, with KHEADERS
# as its headers when its are not installed.  DKMS_INSTALL=no stops after
# dkms add (the tests run dkms build themselves).  With DESTDIR set
# (packaging) only the sources are copied.
DKMS_NAME := fuse-iomap
DKMS_SRC := /usr/src/$(DKMS_NAME)-$(VERSION)
# RELEASE:LINUX-SOURCE, one word per target.
DKMS_KERNELS := $(shell scripts/target --kernels | awk '{ print $$2 ":" $$3 }')
DKMS_RELEASES := $(foreach k,$(DKMS_KERNELS),$(firstword $(subst :, ,$(k))))
DKMS_FOR := $(sort $(KREL) $(foreach r,$(DKMS_RELEASES),$(if $(wildcard /lib/modules/$(r)/build/include),$(r))))
DKMS_INSTALL ?= yes
# dkms runs make itself: without our make's jobserver (it warns and runs -j1).
DKMS := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dkms

install-dkms:
ifeq ($(DESTDIR),)
	$(Q)if $(DKMS) status -m $(DKMS_NAME) -v $(VERSION) | grep -q .; then \
		$(DKMS) remove -m $(DKMS_NAME) -v $(VERSION) --all; fi
endif
	$(call msg,DKMS,$(DKMS_SRC))
	$(Q)rm -rf $(DESTDIR)$(DKMS_SRC) && mkdir -p $(DESTDIR)$(DKMS_SRC)/kmod
	$(Q)cp -a $(filter-out kmod/dkms.conf.in,$(wildcard kmod/*)) $(DESTDIR)$(DKMS_SRC)/kmod/
	$(Q)cp -a include VERSION $(DESTDIR)$(DKMS_SRC)/
	$(Q)sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@KERNELS@|$(DKMS_KERNELS)|g' \
		kmod/dkms.conf.in > $(DESTDIR)$(DKMS_SRC)/dkms.conf
ifeq ($(DESTDIR),)
	$(Q)$(DKMS) add -m $(DKMS_NAME) -v $(VERSION)
ifeq ($(DKMS_INSTALL),yes)
	$(Q)for r in $(DKMS_FOR); do \
		src=; [ -d /lib/modules/$$r/build/include ] || src="--kernelsourcedir $(KHEADERS)"; \
		$(DKMS) install -m $(DKMS_NAME) -v $(VERSION) -k $$r $$src || exit 1; \
	done
endif
endif

# Removes the module from every kernel DKMS built it for, then the sources.
uninstall-dkms:
ifeq ($(DESTDIR),)
	$(Q)if $(DKMS) status -m $(DKMS_NAME) -v $(VERSION) | grep -q .; then \
		$(DKMS) remove -m $(DKMS_NAME) -v $(VERSION) --all; fi
endif
	$(call msg,RM,$(DKMS_SRC))
	$(Q)rm -rf $(DESTDIR)$(DKMS_SRC)
