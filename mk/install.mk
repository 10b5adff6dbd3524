# make install, make uninstall, make install-dkms (see README.md).
PREFIX ?= /usr/local
.PHONY: install uninstall install-dkms uninstall-dkms
