# dots-import - one Makefile, no autotools.
# `make` builds build/dots-import and build/dots-sandbox. `make test` and
# `make demo` first install missing Debian packages (scripts/deps.sh).

VERSION   := 0.1.0
CC        ?= cc
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
# make install: the nightly script where Debian keeps a package's private
# programs, the systemd units where systemd looks for them (a PREFIX of
# /usr/local or /usr), the other samples as documentation examples; the
# installed samples name the installed paths and SYSCONFDIR/LOCALSTATEDIR.
PKGLIBDIR ?= $(PREFIX)/lib/dots-import
DOCDIR    ?= $(PREFIX)/share/doc/dots-import
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
BUILD     ?= build
CFLAGS    ?= -O2 -g
PKGS      := libcurl jansson yaml-0.1 sqlite3 libmicrohttpd zlib

WARN      := -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wvla
DEFS      := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DDOTS_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(DEFS) -Ilib $(PKG_CFLAGS) $(CFLAGS)
LIBS       = $(PKG_LIBS) -lcsv -lm -lpthread

LIB_SRC     := $(sort $(wildcard lib/*.c))
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o)
IMPORT_SRC  := $(sort $(wildcard cmd/dots-import/*.c))
SANDBOX_SRC := $(sort $(wildcard cmd/dots-sandbox/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.SECONDARY:

.PHONY: all deps test check unit e2e asan demo lint fuzz bench install uninstall clean format

all: $(BUILD)/dots-import $(BUILD)/dots-sandbox

$(BUILD)/%.o: %.c $(wildcard lib/*.h) $(wildcard cmd/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libdots.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/dots-import: $(IMPORT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libdots.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/dots-sandbox: $(SANDBOX_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libdots.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libdots.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

deps:
	@sh scripts/deps.sh

# The README's commands: each installs what is missing, then re-reads this
# Makefile so pkg-config sees the freshly installed packages.
test: deps
	@$(MAKE) --no-print-directory check

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BUILD)

# lint first (its lines come before the tests'); a lint problem fails the
# target after the tests ran, so "N passed, N failed" stays the last line.
check: all $(UNIT_BIN)
	@lint=0; sh scripts/lint.sh || lint=1; \
	sh tests/run.sh $(BUILD) && exit $$lint

unit: all $(UNIT_BIN)
	@sh tests/run.sh $(BUILD) unit

e2e: all
	@sh tests/run.sh $(BUILD) e2e

SAN := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SAN)" LDFLAGS="$(SAN)" check

lint:
	@sh scripts/lint.sh

fuzz:
	@DOTS_EXTRA_PKGS="clang libclang-rt-14-dev" sh scripts/deps.sh
	@sh tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

# The samples name the default paths (as pasted, they work for PREFIX=/usr/local);
# install rewrites them to the installed ones.
SAMPLE_PATHS = sed -e 's|/usr/local/lib/dots-import|$(PKGLIBDIR)|g' \
	-e 's|/usr/local/share/doc/dots-import|$(DOCDIR)|g' \
	-e 's|/usr/local/lib/systemd/system|$(UNITDIR)|g' \
	-e 's|/usr/local/bin|$(BINDIR)|g' \
	-e 's|/etc/dots-import|$(SYSCONFDIR)/dots-import|g' \
	-e 's|/var/lib/|$(LOCALSTATEDIR)/lib/|g' \
	-e 's|/var/log/|$(LOCALSTATEDIR)/log/|g'
EXAMPLES := config.yaml users.csv cron.d/dots-import kubernetes/cronjob.yaml \
	kubernetes/indexed-job.yaml
UNITS    := dots-import.service dots-import.timer

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PKGLIBDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples/cron.d $(DESTDIR)$(DOCDIR)/examples/kubernetes
	install -m 0755 $(BUILD)/dots-import $(BUILD)/dots-sandbox $(DESTDIR)$(BINDIR)/
	install -m 0644 dots-import.1 $(DESTDIR)$(MANDIR)/man1/
	$(SAMPLE_PATHS) samples/nightly-export.sh >$(DESTDIR)$(PKGLIBDIR)/nightly-export
	chmod 0755 $(DESTDIR)$(PKGLIBDIR)/nightly-export
	for f in $(UNITS); do \
		$(SAMPLE_PATHS) samples/systemd/$$f >$(DESTDIR)$(UNITDIR)/$$f && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$f || exit 1; \
	done
	for f in $(EXAMPLES); do \
		$(SAMPLE_PATHS) samples/$$f >$(DESTDIR)$(DOCDIR)/examples/$$f && \
		chmod 0644 $(DESTDIR)$(DOCDIR)/examples/$$f || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dots-import $(DESTDIR)$(BINDIR)/dots-sandbox \
		$(DESTDIR)$(MANDIR)/man1/dots-import.1 $(DESTDIR)$(PKGLIBDIR)/nightly-export
	for f in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$f; done
	for f in $(EXAMPLES); do rm -f $(DESTDIR)$(DOCDIR)/examples/$$f; done
	rmdir $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(DOCDIR)/examples/cron.d \
		$(DESTDIR)$(DOCDIR)/examples/kubernetes $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) \
		2>/dev/null || true

format:
	clang-format -i lib/*.[ch] cmd/*/*.[ch] tests/unit/*.c

clean:
	rm -rf build build-asan build-fuzz
