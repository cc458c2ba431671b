# dots-import - one Makefile, no autotools.
# `make` builds build/dots-import and build/dots-sandbox. `make test` and
# `make demo` first install missing Debian packages (scripts/deps.sh).

VERSION   := 0.1.0
CC        ?= cc
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
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

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/dots-import $(BUILD)/dots-sandbox $(DESTDIR)$(BINDIR)/
	if [ -f dots-import.1 ]; then install -m 0644 dots-import.1 $(DESTDIR)$(MANDIR)/man1/; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dots-import $(DESTDIR)$(BINDIR)/dots-sandbox $(DESTDIR)$(MANDIR)/man1/dots-import.1

format:
	clang-format -i lib/*.[ch] cmd/*/*.[ch] tests/unit/*.c

clean:
	rm -rf build build-asan build-fuzz
