# evne: the one entry point. `make run` and `make test` are all a new Debian 12 machine needs.
PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
FUZZ_SECONDS ?= 60
PORT ?= 8080

PKGS := libuv lua5.4 sqlite3 jansson libsodium libcurl
LLHTTP_DIR := /usr/share/llhttp
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -Icore -I/usr/share/include/llhttp -I$(BUILD)/gen \
            -DEVNE_SHARE_DIR='"$(PREFIX)/share/evne"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/demo_data.o
LLHTTP_OBJ := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BUILD)/evne-gen $(BUILD)/evne-bench

.PHONY: all run test check fuzz bench install clean deps unit lua e2e browser screenshots lint

all: $(BUILD)/evne

$(BUILD)/evne: $(BUILD)/core/main.o $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

# llhttp is Debian's generated C, compiled in as it is: its warnings are not ours to fix.
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -w -c -o $@ $<

# The demo's reference data (data/*.csv) is compiled in, so the binary needs no data folder.
$(BUILD)/gen/demo_data.c: data/gerica-requirements.csv data/levels.csv scripts/embed.sh
	@mkdir -p $(@D)
	scripts/embed.sh $@ gerica_csv data/gerica-requirements.csv levels_csv data/levels.csv

$(BUILD)/gen/demo_data.o: $(BUILD)/gen/demo_data.c
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

deps:
	@scripts/deps.sh test

run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@[ -f evne-demo.db ] || { $(BUILD)/evne demo --db evne-demo.db >/dev/null && echo "evne: created evne-demo.db"; }
	@echo "evne: open http://127.0.0.1:$(PORT)/ - demo logins (password 'demo'): admin, radgiver (adviser), leder (manager), ansatt (employee)"
	$(BUILD)/evne serve --db evne-demo.db --host 127.0.0.1 --port $(PORT)

# --- tests -------------------------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(LLHTTP_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do EVNE_RULES=rules $$t; done

lua: $(BUILD)/evne
	EVNE_BIN=$(abspath $(BUILD)/evne) busted --lpath='./rules/?.lua;./lua/?.lua;./tests/lua/?.lua' tests/lua

e2e: $(BUILD)/evne
	EVNE_BIN=$(abspath $(BUILD)/evne) EVNE_RULES=$(abspath rules) busted --lpath='./tests/e2e/?.lua' tests/e2e

# Debian's chromium driven by playwright-core (from the npm registry, pinned in package-lock.json),
# on node 20 or newer (scripts/deps.sh puts one in tests/browser/.node where the system's is older).
BROWSER_DEPS = cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund; }
NODE = $(or $(wildcard $(abspath tests/browser/.node/node_modules/node/bin/node)),node)

browser: $(BUILD)/evne
	$(BROWSER_DEPS)
	EVNE_BIN=$(abspath $(BUILD)/evne) $(NODE) --test --test-concurrency=1 tests/browser/specs/

screenshots: $(BUILD)/evne
	$(BROWSER_DEPS)
	EVNE_BIN=$(abspath $(BUILD)/evne) $(NODE) tests/browser/screenshots.mjs

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all lint unit lua e2e browser

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build folder.
check:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/san CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" all unit lua e2e

# --- fuzzing (clang's libFuzzer) -----------------------------------------------------------
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
# Two harnesses share FUZZ_SECONDS: the request path, then the HR import's parser and checks.
FUZZ_HALF = $$(( $(FUZZ_SECONDS) > 1 ? $(FUZZ_SECONDS) / 2 : 1 ))
fuzz:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" build/fuzz/fuzz_request build/fuzz/fuzz_import
	@mkdir -p build/fuzz/corpus build/fuzz/corpus_import
	build/fuzz/fuzz_request -max_total_time=$(FUZZ_HALF) -rss_limit_mb=2048 build/fuzz/corpus tests/fuzz/corpus
	build/fuzz/fuzz_import -max_total_time=$(FUZZ_HALF) -rss_limit_mb=2048 build/fuzz/corpus_import tests/fuzz/corpus_import

build/fuzz/fuzz_request build/fuzz/fuzz_import: build/fuzz/%: tests/fuzz/%.c $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# --- benchmarks ----------------------------------------------------------------------------
$(BUILD)/evne-%: bench/%.c $(CORE_OBJ) $(LLHTTP_OBJ)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	bench/run.sh
	bench/pages.sh
	bench/matches.sh
	bench/trend.sh
	bench/reminders.sh
	bench/reports.sh
	bench/import.sh

lint:
	luacheck --no-color rules lua tests/lua tests/e2e

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/evne/rules
	install -m 755 $(BUILD)/evne $(DESTDIR)$(PREFIX)/bin/evne
	cp -R rules/. $(DESTDIR)$(PREFIX)/share/evne/rules/
	[ ! -d lua ] || cp -R lua $(DESTDIR)$(PREFIX)/share/evne/
	[ ! -d web ] || cp -R web $(DESTDIR)$(PREFIX)/share/evne/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/doc/evne
	sed 's|/usr/local|$(PREFIX)|g' dist/evne.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/evne.service
	install -m 644 dist/schedule $(DESTDIR)$(PREFIX)/share/evne/schedule.example
	install -m 644 docs/operations.md $(DESTDIR)$(PREFIX)/share/doc/evne/operations.md

clean:
	rm -rf build
