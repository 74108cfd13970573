# kmirror: one non-recursive makefile.
#   make                  build kmirrord and kmirrorctl
#   make test             unit tests (C) and system tests against real Kafka
#   make SANITIZE=address,undefined ...   build with sanitizers
#   make install PREFIX=/usr/local DESTDIR=...

PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
MANDIR  ?= $(PREFIX)/share/man
SYSTEMDDIR ?= /lib/systemd/system
CC      ?= cc
PKGS    := rdkafka libevent libconfig libpcre2-8 jansson openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

BUILD   ?= build
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Iipc -Isupervisor -Iworkers $(PKG_CFLAGS)
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
BUILD   := build-san
endif
# Sanitizer reports go to the daemon's log, which the tests check.
SAN_ENV := $(if $(SANITIZE),ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=print_stacktrace=1,)
ALL_CFLAGS = $(CFLAGS) $(WARN) -std=gnu11 -MMD -MP

IPC_SRCS := $(wildcard ipc/*.c)
SUP_SRCS := $(filter-out supervisor/main.c supervisor/kmirrorctl.c,$(wildcard supervisor/*.c))
WRK_SRCS := $(wildcard workers/*.c)

LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(IPC_SRCS) $(SUP_SRCS) $(WRK_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

KMIRRORD   := $(BUILD)/kmirrord
KMIRRORCTL := $(BUILD)/kmirrorctl

all: $(KMIRRORD) $(KMIRRORCTL)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libkmirror.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(KMIRRORD): $(BUILD)/supervisor/main.o $(BUILD)/libkmirror.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(KMIRRORCTL): $(BUILD)/supervisor/kmirrorctl.o $(BUILD)/libkmirror.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libkmirror.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

unit: $(UNIT_BINS)

# The whole suite: unit binaries and system tests, driven by pytest so that
# one summary line ends the run.
test: all unit
	KMIRROR_BUILD=$(abspath $(BUILD)) $(SAN_ENV) python3 -m pytest -q tests $(PYTEST_ARGS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/kmirrord \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/default \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(KMIRRORD) $(KMIRRORCTL) $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/kmirrord.8 man/kmirrorctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/kmirrord.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0755 etc/init.d/kmirrord $(DESTDIR)$(SYSCONFDIR)/init.d/kmirrord
	install -m 0644 etc/systemd/kmirrord.service $(DESTDIR)$(SYSTEMDDIR)/kmirrord.service
	install -m 0644 etc/logrotate.d/kmirrord $(DESTDIR)$(SYSCONFDIR)/logrotate.d/kmirrord
	@# never overwrite what an operator already has
	@for f in kmirrord/kmirrord.conf:etc/kmirrord.conf:0640 default/kmirrord:etc/default/kmirrord:0600; do \
	  dst=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; rest=$${f#*:}; src=$${rest%%:*}; mode=$${rest#*:}; \
	  if [ -e $$dst ]; then echo "keeping existing $$dst"; \
	  else install -m $$mode $$src $$dst; fi; done

clean:
	rm -rf build build-san

.PHONY: all unit test install clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
