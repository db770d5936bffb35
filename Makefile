# twc: one Makefile for everything. See README.md for the two commands that matter,
# `make check` and `make run`.
#
#   make                              libtwc.a and twc            -> build/release
#   make check                        deps, -Werror build, style, header check, all suites
#   make check SANITIZE=address,undefined                         -> build/asan
#   make check SUITES="unit cli"      only some suites (unit cli interop fuzz-replay)
#   make unit | cli | interop | fuzz-replay   one suite
#   make valgrind                     unit tests under valgrind
#   make fuzz [FUZZ_SECONDS=N]        libFuzzer targets (clang)   -> build/fuzz
#   make bench                        echo, TLS, DNS and web benchmarks (tests/bench/run.sh)
#   make run                          twc serve on its embedded demo config (loopback)
#   make install PREFIX=/usr/local DESTDIR=
#   make V=1 ...                      show full compiler command lines
#   make BUILD=build/NAME ...         any other build folder
#   make clean | distclean            remove $(BUILD) | every build folder
#
# Sources are globbed: lib/*.c and proto/*/*.c make libtwc.a, cmd/*.c the twc
# binary, every tests/unit/**/test_*.c its own cmocka program, every
# tests/fuzz/*_fuzz.c a corpus replay program (and a libFuzzer binary under
# `make fuzz`). Adding a file never needs a Makefile change.
#
# Each configuration builds into its own folder, and each folder records the flags
# its objects were built with ($(BUILD)/flags): building a folder with different
# flags rebuilds all of it, so objects of different configurations never mix.
# -Werror is not part of that record (it does not change the objects); instead an
# object that compiled with warnings is marked (FILE.warned) and rebuilt by the
# next -Werror build, so `make` followed by `make check` cannot hide a warning.

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
VERSION    := 0.1.0

ifeq ($(origin CC),default)
CC := cc
endif

SANITIZE ?=
FUZZ     ?=
WERROR   ?=
SUITES   ?=
RUN_PORT ?= 8000

ifeq ($(FUZZ),1)
# libFuzzer instrumentation for the library; the fuzz binaries link -fsanitize=fuzzer.
BUILD    ?= build/fuzz
SANITIZE := address,undefined
SANFLAGS := -fsanitize=fuzzer-no-link,$(SANITIZE) -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
else ifneq ($(SANITIZE),)
BUILD    ?= build/asan
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    ?= build/release
SANFLAGS :=
endif
# A trailing slash would make two spellings of one folder.
override BUILD := $(patsubst %/,%,$(BUILD))

PKGS       := libcjson libcares openssl libedit
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Wstrict-prototypes \
        -Wno-sign-conversion -Wmissing-prototypes
WERROR_FLAG := $(if $(filter 1,$(WERROR)),-Werror)
OPT ?= -O2 -g
CPPFLAGS_ALL := -I. -iquote lib -D_POSIX_C_SOURCE=200809L -DTWC_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
CFLAGS_ALL   := -std=c11 $(OPT) $(WARN) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL  := $(SANFLAGS) $(LDFLAGS)
LIBS         := $(PKG_LIBS) -lpthread

LIB_SRCS   := $(sort $(wildcard lib/*.c) $(wildcard proto/*/*.c))
CMD_SRCS   := $(sort $(wildcard cmd/*.c))
UNIT_SRCS  := $(sort $(shell find tests/unit -name 'test_*.c' 2>/dev/null))
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/*_fuzz.c))
REPLAY_MAIN := $(wildcard tests/fuzz/replay_main.c)
BENCH_SRCS := $(sort $(wildcard tests/bench/*.c) $(wildcard tests/bench/ref/*.c))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
HDRS       := $(sort $(wildcard lib/*.h) $(wildcard proto/*/*.h))
# Installed headers: everything but module internals (*_int.h, *_impl.h; STYLE.md §2).
PUBLIC_HDRS := $(filter-out %_int.h %_impl.h,$(HDRS))

LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS   := $(CMD_SRCS:%.c=$(BUILD)/%.o)
UNIT_OBJS  := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
FUZZ_OBJS  := $(FUZZ_SRCS:%.c=$(BUILD)/%.o) $(REPLAY_MAIN:%.c=$(BUILD)/%.o)
FUZZ_REPLAY_BINS := $(if $(REPLAY_MAIN),$(FUZZ_SRCS:%.c=$(BUILD)/%_replay))
FUZZ_BINS  := $(FUZZ_SRCS:%.c=$(BUILD)/%)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)
EXAMPLE_OBJS := $(EXAMPLE_SRCS:%.c=$(BUILD)/%.o)
EXAMPLE_BINS := $(EXAMPLE_SRCS:%.c=$(BUILD)/%)
HDR_CHECKS := $(HDRS:%.h=$(BUILD)/hdrcheck/%.o)
ALL_OBJS   := $(LIB_OBJS) $(CMD_OBJS) $(UNIT_OBJS) $(FUZZ_OBJS) $(BENCH_OBJS) $(EXAMPLE_OBJS)

LIBTWC := $(BUILD)/libtwc.a
TWC    := $(BUILD)/twc
FLAGS_FILE := $(BUILD)/flags

# Environment for the test runs: sanitizers report and fail loudly.
ifneq ($(SANITIZE),)
export ASAN_OPTIONS  ?= detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS  ?=
endif

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

.PHONY: all check test unit cli interop fuzz-replay deps run bench fuzz fuzz-build install \
        uninstall clean distclean valgrind style hdrcheck tests-build FORCE
.DEFAULT_GOAL := all

all: $(LIBTWC) $(TWC)

# ---- flags record -------------------------------------------------------------
# Rewritten only when the flags change, so its time stamp tells make when they did.
FLAGS_NOW := $(CC) | $(CPPFLAGS_ALL) | $(CFLAGS_ALL) | $(LDFLAGS_ALL) | $(LIBS) | $(CMOCKA_LIBS)
$(FLAGS_FILE): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(FLAGS_NOW))' >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Under -Werror, rebuild whatever compiled with warnings before.
ifneq ($(WERROR_FLAG),)
WARNED := $(patsubst %.warned,%,$(shell find $(BUILD) -name '*.warned' 2>/dev/null))
$(WARNED): FORCE
endif

# compile SRC -> $@, keeping the diagnostics in $@.warned when there were any.
define compile
	@mkdir -p $(@D)
	$(quiet) CC $@
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(WERROR_FLAG) $(XCFLAGS) -MMD -MP -MF $@.d -MT $@ \
	    -c $(1) -o $@ 2>$@.log; rc=$$?; cat $@.log >&2; \
	if [ $$rc -ne 0 ]; then rm -f $@ $@.log; exit $$rc; fi; \
	if [ -s $@.log ]; then mv $@.log $@.warned; else rm -f $@.log $@.warned; fi
endef

# ---- objects, library, binary ---------------------------------------------------
$(ALL_OBJS): $(BUILD)/%.o: %.c $(FLAGS_FILE)
	$(call compile,$<)

# Test programs may define their test functions without prototypes.
$(UNIT_OBJS) $(FUZZ_OBJS) $(BENCH_OBJS): XCFLAGS := -Wno-missing-prototypes
$(UNIT_OBJS): XCFLAGS += $(CMOCKA_CFLAGS)

$(LIBTWC): $(LIB_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && ar rcs $@ $(LIB_OBJS)

$(TWC): $(CMD_OBJS) $(LIBTWC) $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(CMD_OBJS) $(LIBTWC) $(LIBS)

# ---- tests ------------------------------------------------------------------------
# Unit tests: one program per test_*.c, linked against libtwc and cmocka.
$(UNIT_BINS): %: %.o $(LIBTWC) $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBTWC) $(LIBS) $(CMOCKA_LIBS)

# Fuzz targets with a standalone main that replays a corpus (plain CI, any compiler).
$(FUZZ_REPLAY_BINS): %_replay: %.o $(BUILD)/tests/fuzz/replay_main.o $(LIBTWC) $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/tests/fuzz/replay_main.o $(LIBTWC) $(LIBS)

# libFuzzer binaries (only meaningful with FUZZ=1 and clang: see `make fuzz`).
$(FUZZ_BINS): %: %.o $(LIBTWC) $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LIBTWC) $(LIBS)

# Benchmark programs stand alone (the reference server must not use libtwc).
$(BENCH_BINS): %: %.o $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< -lpthread -lm

# Example programs link against libtwc like a user's program would; building
# them in tests-build keeps them compiling.
$(EXAMPLE_BINS): %: %.o $(LIBTWC) $(FLAGS_FILE)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBTWC) $(LIBS)

# Every header compiles on its own, and twice (include guard) (STYLE.md §2).
$(HDR_CHECKS): $(BUILD)/hdrcheck/%.o: %.h $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(quiet) HDR $<
	$(Q)printf '#include "%s"\n#include "%s"\n' $< $< | \
	    $(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(WERROR_FLAG) -MMD -MP -MF $@.d -MT $@ \
	    -x c -c - -o $@

hdrcheck: $(HDR_CHECKS)

tests-build: all $(UNIT_BINS) $(FUZZ_REPLAY_BINS) $(EXAMPLE_BINS) hdrcheck

# Install missing build and test dependencies (apt-get runs only when something is missing).
deps:
	@sh packaging/install-deps.sh --if-missing

style:
	@sh tests/style.sh

# The style check runs as a suite of its own, so that its result is counted in the
# final line and the test suites still run when it fails.
CHECK_SUITES := $(if $(SUITES),$(SUITES),style unit cli interop fuzz-replay)

check: deps
	@$(MAKE) --no-print-directory WERROR=1 tests-build
	@BUILD=$(BUILD) bash tests/run.sh $(CHECK_SUITES)

test: check

unit cli interop fuzz-replay: deps
	@$(MAKE) --no-print-directory WERROR=1 tests-build
	@BUILD=$(BUILD) bash tests/run.sh $@

valgrind: tests-build
	@BUILD=$(BUILD) VALGRIND=1 bash tests/run.sh unit

run: all
	$(TWC) serve

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@BUILD=$(BUILD) bash tests/bench/run.sh

# libFuzzer needs clang; objects go to build/fuzz only.
fuzz-build: $(LIBTWC) $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 BUILD=build/fuzz CC=clang fuzz-build
	@FUZZ_BUILD=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build/fuzz \
	    $(FUZZ_SECONDS)

# ---- install ------------------------------------------------------------------------
# Paths under PREFIX are written as ${prefix}/... in twc.pc, so the file stays
# relocatable (pkg-config --define-prefix).
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/twc \
	    $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(TWC) $(DESTDIR)$(BINDIR)/twc
	install -m 0644 $(LIBTWC) $(DESTDIR)$(LIBDIR)/libtwc.a
	for h in $(PUBLIC_HDRS); do \
	    install -D -m 0644 $$h $(DESTDIR)$(INCLUDEDIR)/twc/$$h || exit 1; done
	for m in man/*.1; do \
	    if [ -f "$$m" ]; then install -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/ || exit 1; fi; done
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    packaging/twc.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/twc.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/twc $(DESTDIR)$(LIBDIR)/libtwc.a \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/twc.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/twc
	for m in man/*.1; do [ -f "$$m" ] && rm -f $(DESTDIR)$(MANDIR)/man1/$${m#man/}; done; true

# clean removes this configuration's folder only (others may be building in theirs);
# distclean removes every build folder.
clean:
	rm -rf $(BUILD)

distclean:
	rm -rf build

FORCE:

# Header dependencies of this configuration only.
-include $(wildcard $(ALL_OBJS:%=%.d) $(HDR_CHECKS:%=%.d))
