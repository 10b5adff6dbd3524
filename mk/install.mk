# make install, make uninstall, make install-dkms (see README.md).
PREFIX ?= /usr/local
.PHONY: install uninstall install-dkms uninstall-dkms

# Placeholder until the installer lands: the staged library for the example.
install-dev:
	install -D -m644 $(LIBFI_A) $(DESTDIR)$(PREFIX)/lib/libfuse-iomap.a
	install -D -m755 $(LIBFI_SO) $(DESTDIR)$(PREFIX)/lib/libfuse-iomap.so.$(VERSION)
	ln -sf libfuse-iomap.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libfuse-iomap.so.0
	ln -sf libfuse-iomap.so.0 $(DESTDIR)$(PREFIX)/lib/libfuse-iomap.so
	install -D -m644 -t $(DESTDIR)$(PREFIX)/include include/*.h
	install -D -m644 $(LIBBPF) $(DESTDIR)$(PREFIX)/lib/fuse-iomap/libbpf.a
	mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig
	sed 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(PREFIX)/lib|; s|@INCLUDEDIR@|$(PREFIX)/include|; s|@VERSION@|$(VERSION)|' lib/fuse-iomap.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fuse-iomap.pc
