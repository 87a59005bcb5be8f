# imgbuild — see README.  `make`, `make check`, `make check-quick`, `make demo`,
# `make deps`, `make fuzz`, `make bench`.

CC      ?= gcc
PKGS    := libsolv libsolvext rpm libguestfs zlib libzstd liblzma libcurl inih json-c yaml-0.1 sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldb -lpthread -lcrypt
WARN    := -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Ibuilder -MMD -MP
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS   := $(filter-out builder/main.c,$(wildcard builder/*.c))
OBJS       := $(LIB_SRCS:builder/%.c=build/obj/%.o)
ASAN_OBJS  := $(LIB_SRCS:builder/%.c=build/asan/%.o)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJS  := $(LIB_SRCS:builder/%.c=build/fuzzobj/%.o)
FUZZ_SECONDS ?= 20

.SECONDARY: $(FUZZ_OBJS)
.PHONY: print-flags print-libs all check check-quick check-unit check-fuzz check-integration fixture demo deps fuzz bench clean

all: builder/imgbuild

builder/imgbuild: build/obj/main.o build/libimgbuild.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

build/libimgbuild.a: $(OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

build/obj/%.o: builder/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests link the real code, built under ASan + UBSan.
build/asan/%.o: builder/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/libimgbuild-asan.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^

build/unit/%: tests/unit/%.c tests/unit/testutil.h build/libimgbuild-asan.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -Itests/unit -o $@ $< build/libimgbuild-asan.a $(PKG_LIBS)

# libFuzzer targets (clang), same sources.
build/fuzzobj/%.o: builder/%.c
	@mkdir -p $(@D)
	clang $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	clang $(filter-out -MMD -MP,$(ALL_CFLAGS)) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

check-unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

fuzz: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run-fuzz.sh $(FUZZ_BINS)

fixture:
	tests/fixture/build.sh

check-integration: builder/imgbuild
	@SLOW=$${SLOW:-1} tests/run-integration.sh

# Everything, slow boot tests included.
check: all check-unit check-fuzz check-integration

# Skips the tests that boot images under qemu.
check-quick: all check-unit
	@SLOW=0 tests/run-integration.sh

demo: builder/imgbuild
	tests/demo.sh

bench: builder/imgbuild
	bench/run.sh

DEPS := build-essential pkg-config clang libclang-rt-14-dev \
	libsolv-dev libsolvext-dev librpm-dev libguestfs-dev zlib1g-dev libzstd-dev liblzma-dev libcurl4-openssl-dev \
	libinih-dev libjson-c-dev libdb5.3-dev libyaml-dev libsqlite3-dev \
	rpm rpm2cpio createrepo-c dnf python3-dnf debootstrap gnupg zstd cpio fakeroot dpkg-dev \
	qemu-utils qemu-system-x86 libguestfs-tools libguestfs-xfs linux-image-amd64 time \
	e2fsprogs dosfstools mtools xorriso cloud-image-utils \
	python3-jsonschema gnuplot-nox hyperfine ca-certificates strace

deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(DEPS) 2>/dev/null | awk '$$NF!="installed"{print $$1}'; \
	  for p in $(DEPS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "all build and test dependencies are installed"; fi

clean:
	rm -rf build builder/imgbuild

# compile and link flags for the test drivers (tests/install, tests/disk)
print-flags:
	@echo $(PKG_CFLAGS)
print-libs:
	@echo $(PKG_LIBS)

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) build/obj/main.d
