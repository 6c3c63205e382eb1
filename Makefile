# poolmgr - one plain GNU Makefile.
#
#   make            build everything under build/
#   make test       unit tests, then the same suite under ASan+UBSan
#   make bench      benchmarks (tables on stdout)
#   make run        start poolmgrd in the foreground on a default pool
#   make deps       install missing Debian packages the build needs (as root)
#   make test-deps  the same, with those the tests add
#   make clean

BUILD    ?= build
CC       ?= cc
OBJCOPY  ?= objcopy
SAN      ?=
OPT      ?= -O2

# Debian packages the build and `make run` need (`make deps`): the
# daemon's, poolctl's and the library's, python3 for the binding, and
# cmocka, as `make` builds the tests' programs too.
DEB_PKGS := build-essential pkgconf libbsd-dev libcmocka-dev libevent-dev \
            libprotobuf-c-dev protobuf-c-compiler libinih-dev libjson-c-dev \
            libsystemd-dev python3
# What only the tests add (`make test-deps`): systemd's analyze, sysusers
# and socket-activate, a container for the real one (systemd-container),
# mandoc for the pages, clang for the fuzzers, cppcheck, valgrind's
# counts, and /usr/bin/time, by which tests/run.sh times each program.
# procps: the service's ExecReload= runs /bin/kill, which a minimal Debian
# (a container's, a debootstrap --variant=minbase) lacks.
TEST_DEB_PKGS := systemd systemd-container mandoc clang libclang-rt-14-dev \
                 cppcheck valgrind time procps

CFLAGS_BASE := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow \
               -Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
               -Idaemon -Iclient -I$(BUILD)/proto
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
endif
# libsystemd (sd_notify, sd_listen_fds): on when found; SYSTEMD=0 builds
# the same daemon without readiness notification and socket activation.
SYSTEMD ?= $(shell pkg-config --exists libsystemd 2>/dev/null && echo 1 || echo 0)
ifeq ($(SYSTEMD),1)
SD_CFLAGS := -DHAVE_SYSTEMD
SD_LIBS   := $(shell pkg-config --libs libsystemd 2>/dev/null)
endif

CFLAGS  := $(CFLAGS_BASE) $(SD_CFLAGS) $(CFLAGS_EXTRA)
LDFLAGS += $(LDFLAGS_SAN)

# Install layout (GNU conventions; DESTDIR is for staging, never set here).
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
SBINDIR      ?= $(PREFIX)/sbin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
# The examples' sources and their Makefile, for a program's author.
DOCDIR       ?= $(PREFIX)/share/doc/poolmgr
EXAMPLEDIR   ?= $(DOCDIR)/examples
# Where bash-completion loads a command's completion from on first use.
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSCONFDIR   ?= /etc
# systemd's own directories for the system prefixes; under any other
# PREFIX (a user's own, without root) the units and the sysusers entry go
# under it too, as everything else does, rather than failing half way.
SYSTEM_PREFIX := $(filter /usr /usr/local,$(PREFIX))
UNITDIR      ?= $(if $(SYSTEM_PREFIX),$(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR  ?= $(if $(SYSTEM_PREFIX),$(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),/usr/lib/sysusers.d),$(PREFIX)/lib/sysusers.d)
# The Python binding: where Debian's python3 looks (PREFIX=/usr: the
# packages' directory; /usr/local: the local one of this python3).
PYTHON_VERSION := $(shell python3 -c \
                  'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR    ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(or $(PYTHON_VERSION),3)/dist-packages)
# Run by `make install` without DESTDIR; found in /sbin too.
LDCONFIG     ?= ldconfig

CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

# The allocator engine: no I/O, no libevent.
ENGINE_SRCS := daemon/heap.c daemon/heap_runs.c daemon/heap_buddy.c \
               daemon/heap_blockmap.c daemon/heap_spans.c \
               daemon/heap_dirty.c daemon/heap_cache.c daemon/heap_check.c \
               daemon/heap_reserve.c daemon/heap_walk.c \
               daemon/heap_resize.c daemon/heap_stats.c
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
ENGINE_LIB  := $(BUILD)/libheap.a

# The wire protocol, compiled by protoc-c.
PROTO_C   := $(BUILD)/proto/poolmgr.pb-c.c
PROTO_H   := $(BUILD)/proto/poolmgr.pb-c.h
PROTO_OBJ := $(BUILD)/proto/poolmgr.pb-c.o
PROTO_PIC := $(BUILD)/pic/proto/poolmgr.pb-c.o
# The daemon's own state across a restart in place: never on the wire.
STATE_C   := $(BUILD)/proto/state.pb-c.c
STATE_H   := $(BUILD)/proto/state.pb-c.h
STATE_OBJ := $(BUILD)/proto/state.pb-c.o

DAEMON_SRCS := daemon/poolmgrd.c daemon/log.c daemon/server.c daemon/peer.c \
               daemon/session.c daemon/pool.c daemon/pool_share.c \
               daemon/pool_hold.c daemon/pool_block.c daemon/pool_check.c \
               daemon/pool_restore.c daemon/pool_release.c \
               daemon/dispatch.c daemon/dispatch_admin.c \
               daemon/dispatch_open.c daemon/dispatch_inspect.c \
               daemon/dispatch_upkeep.c \
               daemon/dispatch_block.c daemon/dispatch_batch.c \
               daemon/dispatch_refuse.c daemon/dispatch_names.c \
               daemon/dispatch_wait.c daemon/dispatch_room.c daemon/dispatch_status.c daemon/dispatch_blocks.c \
               daemon/dispatch_users.c daemon/dispatch_acl.c \
               daemon/dispatch_strings.c \
               daemon/block_names.c daemon/persist_times.c \
               daemon/pool_names.c daemon/pool_evict.c \
               daemon/pool_evict_batch.c \
               daemon/pool_numa.c daemon/pool_acl.c daemon/pool_uquota.c \
               daemon/dispatch_uquota.c \
               daemon/config.c daemon/config_read.c daemon/config_lists.c \
               daemon/config_changes.c daemon/service.c \
               daemon/arena.c daemon/records.c daemon/block_index.c \
               daemon/uid_holds.c \
               daemon/memtrim.c daemon/restart.c daemon/state_save.c \
               daemon/restore.c daemon/restore_check.c daemon/fdstore.c \
               daemon/restart_exec.c daemon/restore_fds.c \
               daemon/restart_probe.c daemon/restart_names.c \
               daemon/journal.c daemon/journal_file.c \
               daemon/journal_records.c daemon/journal_compact.c \
               daemon/journal_keep.c daemon/journal_names.c \
               daemon/recover.c daemon/notify.c daemon/hugepage.c \
               daemon/closer.c daemon/socket_dir.c daemon/peer_store.c \
               daemon/peer_kept.c daemon/server_accept.c \
               daemon/server_listen.c daemon/server_pools.c \
               daemon/peer_socket.c
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/%.o) $(STATE_OBJ)
# -pthread: destroyed pools' memfds are closed on a thread (closer.c).
DAEMON_LIBS := $(shell pkg-config --libs libevent libprotobuf-c inih 2>/dev/null) $(SD_LIBS) \
               -pthread

LIB_SRCS := client/conn.c client/conn_open.c client/conn_denied.c \
            client/conn_words.c \
            client/open.c client/admin.c client/stats.c client/lists.c \
            client/blocks.c client/pool.c client/batch.c \
            client/alloc_wait.c client/realloc.c client/cache.c \
            client/cache_class.c client/cache_shard.c client/cache_budget.c \
            client/cache_flush.c client/cache_conn.c \
            client/cache_table.c client/cache_lock.c client/errors.c \
            client/share.c client/names.c client/wait.c client/acl.c \
            client/uquota.c
LIB_PIC  := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
LIB_SO   := $(BUILD)/libpoolclient.so.1.0.0
LIB_A    := $(BUILD)/libpoolclient.a
# The archive `make install` installs: the library's objects linked into
# one, in which only pool_* stays global, as the shared library exports
# only pool_*.  A program linked with it statically may name its own
# functions as the library names its internal ones (conn_open,
# cache_create) without a clash, or either replacing the other.  $(LIB_A),
# every object as it is, is what the tree's programs and tests link: the
# tests reach the protocol's code through it.
LIB_A_PUBLIC := $(BUILD)/install/libpoolclient.a
LIB_LIBS := $(shell pkg-config --libs libprotobuf-c 2>/dev/null) -lpthread

CTL_SRCS := client/poolctl.c client/poolctl_parse.c client/poolctl_admin.c \
            client/poolctl_show.c client/poolctl_names.c \
            client/poolctl_print.c client/poolctl_print_stats.c \
            client/poolctl_print_rows.c client/poolctl_fail.c \
            client/poolctl_status.c client/poolctl_blocks.c \
            client/poolctl_free.c client/poolctl_users.c \
            client/poolctl_acl.c client/poolctl_acl_text.c \
            client/poolctl_uquota.c client/poolctl_uquota_text.c
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/%.o)
CTL_LIBS := $(shell pkg-config --libs json-c 2>/dev/null)
EXAMPLES := $(BUILD)/examples/producer $(BUILD)/examples/consumer \
            $(BUILD)/examples/frames

UNIT_TESTS := test_heap_rules test_heap_random test_heap_meta \
              test_heap_split test_heap_restore test_session test_records \
              test_block_index test_restart_names test_journal_compact \
              test_notify test_cache_lock test_poolctl_print \
              test_pool_check test_recover test_heap_walk test_pool_acl \
               test_pool_uquota test_journal_group test_journal_keeps \
               test_pool_evict test_pool_numa test_heap_reserve \
               test_uid_holds test_uquota_random
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/%)
ITESTS     := itest_share itest_crash itest_perm itest_lab itest_threads \
              itest_memory itest_badinput itest_badinput_api \
              itest_badinput_words itest_poolctl itest_poolctl_admin \
              itest_poolctl_errors itest_poolctl_acl itest_config \
              itest_config_file itest_config_numbers \
              itest_systemd itest_stress itest_limits itest_batch \
              itest_cache itest_cache_unsent itest_cache_waits \
              itest_silent itest_liar itest_liar_features \
              itest_liar_lists itest_release itest_drop \
              itest_wait itest_fork itest_books itest_clients \
              itest_handles itest_dropping itest_quota itest_quota_uids \
              itest_reload \
              itest_usage itest_restart itest_restart_busy \
              itest_restart_fds itest_restart_admin itest_restore \
              itest_sharemap_renew itest_restart_guard itest_recover \
              itest_recover_store itest_recover_midway \
              itest_names itest_names_crash itest_names_pages \
              itest_restart_edges \
              itest_names_readers itest_notify itest_probe_exit \
              itest_alloc_persist itest_journal_group itest_crash_model \
              itest_crash_load \
              itest_cache_threads itest_cache_app \
              itest_numa \
              itest_huge itest_evict itest_evict_realloc itest_evict_restart \
              itest_names_wait itest_alloc_wait \
              itest_alloc_wait_order itest_alloc_wait_parts \
              itest_set itest_limit itest_user_quota \
              itest_user_quota_entries itest_stats_abi \
              itest_misuse itest_logs itest_list itest_connect \
              itest_status itest_blocks itest_acl itest_acl_api \
              itest_user_quota_api itest_destroy_fork itest_dlclose \
               itest_frames itest_unread_fds itest_check_paced \
               itest_uquota_shared itest_uquota_random
# Under a malloc of its own, which ASan's allocator leaves no room for.
ifneq ($(SAN),1)
ITESTS     += itest_nomem itest_journal_env
endif
ITEST_BINS := $(ITESTS:%=$(BUILD)/tests/%)
ITEST_COMMON := $(BUILD)/tests/integration/harness.o \
                $(BUILD)/tests/integration/harness_raw.o \
                $(BUILD)/tests/integration/harness_store.o
# The Python binding's test, run as it is, and the layout of the
# structures it mirrors as the compiler makes them.
PY_TESTS := tests/integration/itest_python.py
PY_ABI   := $(BUILD)/tests/py_abi
# What test_cost_flat.sh counts the instructions of.
COST_DRIVER := $(BUILD)/tests/cost_driver
# The client systemd_real.sh keeps across restarts (make test-systemd).
SD_HOLDER := $(BUILD)/tests/sd_holder
# And the one whose connection the daemon keeps for a reply left unread.
SD_UNREAD := $(BUILD)/tests/sd_unread
# Preloaded into a daemon to refuse it one memfd (itest_restart_guard).
FAIL_MEMFD := $(BUILD)/tests/fail_memfd.so
# Preloaded to make it fatal while its restart probe runs (itest_probe_exit).
FAIL_PIPE_EVENT := $(BUILD)/tests/fail_pipe_event.so
# Preloaded to refuse it mbind, as a system-call filter would (itest_numa).
FAIL_MBIND := $(BUILD)/tests/fail_mbind.so
# Preloaded to refuse it SO_PEERGROUPS, as an old kernel would (itest_acl).
FAIL_PEERGROUPS := $(BUILD)/tests/fail_peergroups.so
# Preloaded to cap its SO_SNDBUF, as a small net.core.wmem_max would
# (itest_unread_fds).
FAIL_WMEM_MAX := $(BUILD)/tests/fail_wmem_max.so
# Preloaded to fail its malloc, calloc and realloc (itest_nomem).  Plain
# build only: a sanitized daemon's allocator is ASan's own, which no
# preloaded library can come before.
FAIL_MALLOC := $(BUILD)/tests/fail_malloc.so
# Preloaded to crash it as the crash journal grows (itest_recover_midway).
FAIL_GROW := $(BUILD)/tests/fail_grow.so

BENCH_BINS := $(BUILD)/bench/bench_engine $(BUILD)/bench/bench_speed \
              $(BUILD)/bench/bench_boost $(BUILD)/bench/bench_release \
              $(BUILD)/bench/bench_handles $(BUILD)/bench/bench_lookup \
              $(BUILD)/bench/bench_names \
              $(BUILD)/bench/bench_rebuild $(BUILD)/bench/bench_restart \
              $(BUILD)/bench/bench_renew $(BUILD)/bench/bench_journal \
              $(BUILD)/bench/bench_cache_hit \
              $(BUILD)/bench/bench_hugepage $(BUILD)/bench/bench_blocks \
              $(BUILD)/bench/bench_alloc_wait
# Only the benchmarks need these (Boost.Interprocess, its compiler, the
# plot, the allocators the engine is measured against, callgrind).
BENCH_DEB_PKGS := libboost-dev g++ gnuplot-nox libjemalloc-dev \
                  libmimalloc-dev valgrind

# Shell tests of what is installed and shipped; run once, in the plain build.
SYSTEM_TESTS := tests/system/test_units.sh tests/system/test_manpages.sh \
                tests/system/test_docs.sh tests/system/test_nosystemd.sh \
                tests/system/test_install.sh tests/system/test_fuzz_smoke.sh \
                tests/system/test_lint.sh tests/system/test_cost_flat.sh \
                tests/system/test_completion.sh tests/system/test_header.sh \
                tests/system/test_make_run.sh tests/system/test_make_deps.sh \
                tests/system/systemd_real.sh
ifeq ($(SAN),1)
SYSTEM_TESTS :=
endif

MAN_PAGES := docs/poolmgrd.8 docs/poolctl.1 docs/poolmgrd.conf.5 \
             docs/libpoolclient.3
# libpoolclient(3) under the name of every function its NAME section lists,
# as one-line pages that source it, so that `man pool_alloc` finds it.
MAN3_ALIASES := $(filter-out libpoolclient,$(shell sed -n \
                '/^\.SH NAME/,/^\\-/{/^\.SH/d;/^\\-/d;s/,/ /g;p;}' \
                docs/libpoolclient.3))
MAN3_ALIAS_PAGES := $(MAN3_ALIASES:%=$(BUILD)/man/man3/%.3)
# The pages that name directories of the install, as installed.
MAN_PATHS := $(BUILD)/man/man1/poolctl.1 $(BUILD)/man/man3/libpoolclient.3
UNITS     := $(BUILD)/systemd/poolmgrd.service $(BUILD)/systemd/poolmgrd.socket

# With what only `make install` copies: after `make`, `sudo make install`
# writes nothing in $(BUILD) that its owner could not replace or remove.
PROGRAMS := $(BUILD)/poolmgrd $(BUILD)/poolctl $(LIB_SO) $(LIB_A) \
            $(LIB_A_PUBLIC) $(EXAMPLES) \
            $(UNITS) $(BUILD)/poolclient.pc $(MAN3_ALIAS_PAGES) $(MAN_PATHS) \
            $(BUILD)/python/poolclient_lib.py

.PHONY: FORCE all build test check-build check-build-files check-suite \
        check-tsan \
        check-tsan-build bench bench-instr run run-daemon deps test-deps clean \
        install uninstall fuzz fuzzers stress lint test-systemd

# The public targets install packages first, then build in a fresh make:
# the pkg-config answers above are only right once the packages exist.
# A make that has a test goal besides (make -j2 all test) installs once:
# its build goals ask for the tests' tools too, where two installs side
# by side would meet on apt's lock as root, and ask twice without it.
TEST_GOALS := test test-deps check-build check-suite check-tsan \
              check-tsan-build fuzzers fuzz lint test-systemd
BUILD_DEPS := $(if $(filter $(TEST_GOALS),$(MAKECMDGOALS)),test-deps,deps)
all: $(BUILD_DEPS)
	@$(MAKE) --no-print-directory build

# The tests' programs too, but not the cost driver: valgrind's header is
# one of the tests' packages (check-build builds it).
build: $(ENGINE_LIB) $(PROGRAMS) $(UNIT_BINS) $(ITEST_BINS) $(PY_ABI)

# One protoc-c run makes both (&:), also when make runs jobs side by side.
$(PROTO_C) $(PROTO_H) &: proto/poolmgr.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --c_out=$(BUILD)/proto --proto_path=proto $<

$(STATE_C) $(STATE_H) &: proto/state.proto
	@mkdir -p $(BUILD)/proto
	protoc-c --c_out=$(BUILD)/proto --proto_path=proto $<

$(PROTO_OBJ): $(PROTO_C)
	$(CC) $(CFLAGS) -c $< -o $@
$(STATE_OBJ): $(STATE_C)
	$(CC) $(CFLAGS) -c $< -o $@
$(PROTO_PIC): $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/%.o: %.c | $(PROTO_H) $(STATE_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/poolmgrd: $(DAEMON_OBJS) $(PROTO_OBJ) $(ENGINE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(LIB_SO): $(LIB_PIC) $(PROTO_PIC) client/libpoolclient.sym
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libpoolclient.so.1 \
	  -Wl,--version-script=client/libpoolclient.sym -o $@ \
	  $(LIB_PIC) $(PROTO_PIC) $(LIB_LIBS)
	ln -sf libpoolclient.so.1.0.0 $(BUILD)/libpoolclient.so.1
	ln -sf libpoolclient.so.1 $(BUILD)/libpoolclient.so

$(LIB_A): $(LIB_PIC) $(PROTO_PIC)
	$(AR) rcs $@ $^

$(LIB_A_PUBLIC): $(LIB_PIC) $(PROTO_PIC)
	@mkdir -p $(dir $@)
	$(CC) -nostdlib -r -o $(@:.a=.o) $^
	$(OBJCOPY) --wildcard --keep-global-symbol='pool_*' $(@:.a=.o)
	rm -f $@
	$(AR) rcs $@ $(@:.a=.o)

$(BUILD)/poolctl: $(CTL_OBJS) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(CTL_LIBS)

$(BUILD)/examples/%: $(BUILD)/client/examples/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(BUILD)/tests/itest_%: $(BUILD)/tests/integration/itest_%.o $(ITEST_COMMON) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIB_LIBS)

$(ENGINE_LIB): $(ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Bound to the shared library's LIBPOOLCLIENT_1 statistics, as a program
# linked before struct pool_stats grew.
$(BUILD)/tests/itest_stats_abi: $(BUILD)/tests/integration/itest_stats_abi.o \
		$(ITEST_COMMON) $(PROTO_OBJ) $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) -L$(BUILD) -lpoolclient \
	  -Wl,-rpath,'$$ORIGIN/..' $(CMOCKA_LIBS) $(LIB_LIBS)

# Loads the shared library itself (dlopen), beside the static one.
$(BUILD)/tests/itest_dlclose: | $(LIB_SO)

# The restart tests' fixture and client processes.
$(BUILD)/tests/itest_restart $(BUILD)/tests/itest_restart_busy \
  $(BUILD)/tests/itest_restart_fds $(BUILD)/tests/itest_restart_admin \
  $(BUILD)/tests/itest_restart_edges: $(BUILD)/tests/integration/harness_restart.o

# Users and groups of the tests' own, in a mount namespace.
$(BUILD)/tests/itest_acl_api $(BUILD)/tests/itest_poolctl_acl \
  $(BUILD)/tests/itest_perm: \
  $(BUILD)/tests/integration/harness_ids.o

# The user quota's pools, openings and refusals, made and checked alike.
$(BUILD)/tests/itest_user_quota $(BUILD)/tests/itest_uquota_shared \
  $(BUILD)/tests/itest_uquota_random: \
  $(BUILD)/tests/integration/quota_util.o

# Bad input's: raw connections, the daemon and its normal client.
$(BUILD)/tests/itest_badinput $(BUILD)/tests/itest_badinput_api \
  $(BUILD)/tests/itest_badinput_words: \
  $(BUILD)/tests/integration/badinput_util.o

# The poolctl command line's: its daemon, poolctl run as root or nobody.
$(BUILD)/tests/itest_poolctl $(BUILD)/tests/itest_poolctl_admin \
  $(BUILD)/tests/itest_poolctl_errors: \
  $(BUILD)/tests/integration/poolctl_util.o

# A crash under systemd's: the store played, the daemon on it, its blocks.
$(BUILD)/tests/itest_recover $(BUILD)/tests/itest_recover_store \
  $(BUILD)/tests/itest_recover_midway: \
  $(BUILD)/tests/integration/recover_util.o

# Evictable names: the daemon and its pools, a pool filled with names.
$(BUILD)/tests/itest_evict $(BUILD)/tests/itest_evict_realloc \
  $(BUILD)/tests/itest_evict_restart: \
  $(BUILD)/tests/integration/evict_util.o

# The configuration file's: the file written, its refusals, --check-config.
$(BUILD)/tests/itest_config $(BUILD)/tests/itest_config_file \
  $(BUILD)/tests/itest_config_numbers: \
  $(BUILD)/tests/integration/config_util.o

# The client cache's: a daemon for each test, its handles, the send failed.
$(BUILD)/tests/itest_cache $(BUILD)/tests/itest_cache_unsent \
  $(BUILD)/tests/itest_cache_waits: \
  $(BUILD)/tests/integration/cache_util.o

# The allocations that wait: pools made full, waiters, the daemon stopped.
$(BUILD)/tests/itest_alloc_wait $(BUILD)/tests/itest_alloc_wait_order \
  $(BUILD)/tests/itest_alloc_wait_parts: \
  $(BUILD)/tests/integration/alloc_wait_util.o

# The lying daemon's tests: the fake daemon, and what their clients share.
$(BUILD)/tests/itest_liar $(BUILD)/tests/itest_liar_features \
  $(BUILD)/tests/itest_liar_lists: \
  $(BUILD)/tests/integration/liar_daemon.o \
  $(BUILD)/tests/integration/liar_pool.o \
  $(BUILD)/tests/integration/liar_lists.o \
  $(BUILD)/tests/integration/liar_util.o

# Restores from states made by hand, in the daemon's own format.
$(BUILD)/tests/itest_restore: $(STATE_OBJ)

# The rule tests share the engine's owner as the tests play it.
$(BUILD)/tests/test_heap_rules $(BUILD)/tests/test_heap_split \
  $(BUILD)/tests/test_heap_restore $(BUILD)/tests/test_heap_walk: \
  $(BUILD)/tests/unit/heap_owner.o
# The records test runs the daemon's record allocator alone.
$(BUILD)/tests/test_records: $(BUILD)/daemon/records.o
# Tests of the daemon's own code, all of it but main(): its sessions and
# pools (test_session), its Check (test_pool_check), its crash recovery and
# state checks (test_recover).
DAEMON_UNIT_BINS := $(BUILD)/tests/test_session $(BUILD)/tests/test_pool_check \
		    $(BUILD)/tests/test_recover $(BUILD)/tests/test_journal_group \
		    $(BUILD)/tests/test_journal_keeps $(BUILD)/tests/test_pool_evict \
		    $(BUILD)/tests/test_uquota_random
$(DAEMON_UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o \
		$(filter-out $(BUILD)/daemon/poolmgrd.o,$(DAEMON_OBJS)) \
		$(PROTO_OBJ) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(CMOCKA_LIBS) \
	  $(DAEMON_LIBS)
# Those that set up a session and a pool share that setup.
$(BUILD)/tests/test_session $(BUILD)/tests/test_pool_check \
  $(BUILD)/tests/test_journal_group $(BUILD)/tests/test_journal_keeps \
  $(BUILD)/tests/test_pool_evict: \
  $(BUILD)/tests/unit/daemon_fixture.o
# The names test runs the daemon's naming of the descriptors an exec passes.
$(BUILD)/tests/test_restart_names: $(BUILD)/daemon/restart_names.o
# The access control test runs a pool's list and its rules alone.
$(BUILD)/tests/test_pool_acl: $(BUILD)/daemon/pool_acl.o
$(BUILD)/tests/test_pool_uquota: $(BUILD)/daemon/pool_uquota.o
# The NUMA test reads the node lists alone.
$(BUILD)/tests/test_pool_numa: $(BUILD)/daemon/pool_numa.o
# The compaction test runs the crash journal's live set of records.
$(BUILD)/tests/test_journal_compact: $(BUILD)/daemon/journal_compact.o \
  $(BUILD)/daemon/pool_acl.o $(BUILD)/daemon/pool_uquota.o
# The index test runs the daemon's own index of blocks.
$(BUILD)/tests/test_block_index: $(BUILD)/daemon/block_index.o \
  $(BUILD)/daemon/log.o
# ... and the uid_holds test its count of uids' holds on shared blocks.
$(BUILD)/tests/test_uid_holds: $(BUILD)/daemon/uid_holds.o \
  $(BUILD)/daemon/log.o
# The notification sender on a socket of the test's own.
$(BUILD)/tests/test_notify: $(BUILD)/tests/unit/test_notify.o \
  $(BUILD)/daemon/notify.o $(BUILD)/daemon/log.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) \
	  $(shell pkg-config --libs libevent 2>/dev/null) -lpthread
# The client cache's shard lock, by threads of the test's own.
$(BUILD)/tests/test_cache_lock: $(BUILD)/tests/unit/test_cache_lock.o \
  $(BUILD)/client/cache_lock.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) -lpthread
# poolctl's tables, printed by its own printing code.
$(BUILD)/tests/test_poolctl_print: $(BUILD)/tests/unit/test_poolctl_print.o \
  $(BUILD)/client/poolctl_print.o $(BUILD)/client/poolctl_print_stats.o \
  $(BUILD)/client/poolctl_print_rows.o $(BUILD)/client/poolctl_acl_text.o \
  $(BUILD)/client/poolctl_uquota_text.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIB_LIBS) $(CTL_LIBS)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(CMOCKA_LIBS)

$(COST_DRIVER): $(BUILD)/tests/system/cost_driver.o \
		$(BUILD)/tests/bench/bench_util.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^

$(SD_HOLDER): $(BUILD)/tests/system/sd_holder.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(SD_UNREAD): $(BUILD)/tests/system/sd_unread.o \
		$(BUILD)/tests/integration/harness_raw.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(PY_ABI): $(BUILD)/tests/integration/py_abi.o
	$(CC) $(LDFLAGS) -o $@ $^

$(FAIL_MEMFD): tests/integration/fail_memfd.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_restart_guard $(BUILD)/tests/itest_restart_edges \
  $(BUILD)/tests/itest_restart_fds: | $(FAIL_MEMFD)

$(FAIL_PIPE_EVENT): tests/integration/fail_pipe_event.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_probe_exit: | $(FAIL_PIPE_EVENT)

$(FAIL_MBIND): tests/integration/fail_mbind.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_numa: | $(FAIL_MBIND)

$(FAIL_PEERGROUPS): tests/integration/fail_peergroups.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_acl: | $(FAIL_PEERGROUPS)

$(FAIL_WMEM_MAX): tests/integration/fail_wmem_max.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_unread_fds: | $(FAIL_WMEM_MAX)

$(FAIL_MALLOC): tests/integration/fail_malloc.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_nomem $(BUILD)/tests/itest_journal_env: | $(FAIL_MALLOC)
# Its reservations out of memory run under it (the plain build).
$(BUILD)/tests/test_heap_restore: | $(FAIL_MALLOC)
# ... and a retain refused for want of a holder's record.
$(BUILD)/tests/test_pool_check: | $(FAIL_MALLOC)

$(FAIL_GROW): tests/integration/fail_grow.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ $< -ldl
$(BUILD)/tests/itest_recover_midway $(BUILD)/tests/itest_alloc_persist \
  $(BUILD)/tests/itest_journal_group $(BUILD)/tests/itest_crash_model \
  $(BUILD)/tests/itest_crash_load: | $(FAIL_GROW)

$(BUILD)/bench/bench_engine: $(BUILD)/tests/bench/bench_engine.o \
		$(BUILD)/tests/bench/bench_util.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ldl -lm

# A heap rebuilt block by block, as a restart in place rebuilds each pool.
$(BUILD)/bench/bench_rebuild: $(BUILD)/tests/bench/bench_rebuild.o \
		$(BUILD)/tests/bench/bench_util.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# The end-to-end benchmark (bench_speed) and its Boost.Interprocess peer.
BENCH_DIR    := $(BUILD)/tests/bench
BENCH_COMMON := $(BENCH_DIR)/bench_procs.o $(BENCH_DIR)/bench_window.o \
                $(BENCH_DIR)/bench_util.o
BENCH_SPEED_OBJS := $(addprefix $(BENCH_DIR)/,bench_speed.o bench_floor.o \
                bench_heap.o bench_report.o bench_echo.o bench_daemon.o \
                bench_pool.o bench_inproc.o bench_peer.o) $(BENCH_COMMON)
BENCH_CXXFLAGS := -std=gnu++17 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE
BENCH_DATA   := $(BUILD)/bench/shared-heap.dat
# The published plot (docs/bench-shared-heap.svg) changes only on purpose:
# make bench BENCH_PLOT=docs/bench-shared-heap.svg, with its numbers
# recorded in docs/PERFORMANCE.md.
BENCH_PLOT   := $(BUILD)/bench/shared-heap.svg

$(BUILD)/bench/bench_speed: $(BENCH_SPEED_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) \
	  $(shell pkg-config --libs libevent 2>/dev/null) -ldl

# A big free's cost to other clients, stepped release against all at once.
$(BUILD)/bench/bench_release: $(BENCH_DIR)/bench_release.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_probe.o \
  $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# A pool's blocks listed, against a Stats loop, beside a prober.
$(BUILD)/bench/bench_blocks: $(BENCH_DIR)/bench_blocks.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_probe.o \
  $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# A producer meeting a full pool: pool_alloc_wait against polling.
$(BUILD)/bench/bench_alloc_wait: $(BENCH_DIR)/bench_alloc_wait.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# Stats over many handles, lookups of a block of many holders.
$(BUILD)/bench/bench_handles: $(BENCH_DIR)/bench_handles.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o \
  $(BUILD)/tests/integration/harness_raw.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# The clients' pause while the daemon restarts in place with 10^6 blocks.
$(BUILD)/bench/bench_restart: $(BENCH_DIR)/bench_restart.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o \
  $(BUILD)/tests/integration/harness_raw.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# A caching handle's cost after a restart in place (its share map renewed).
$(BUILD)/bench/bench_renew: $(BENCH_DIR)/bench_renew.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# The instructions of a client cache hit, counted under callgrind.
$(BUILD)/bench/bench_cache_hit: $(BENCH_DIR)/bench_cache_hit.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# A pool on huge pages against one on system pages: create, touch, reads.
$(BUILD)/bench/bench_hugepage: $(BENCH_DIR)/bench_hugepage.o \
  $(BENCH_DIR)/bench_daemon.o $(BENCH_DIR)/bench_util.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# What the crash journal adds to a persist and an unpersist, in-process.
$(BUILD)/bench/bench_journal: $(BENCH_DIR)/bench_journal.o \
		$(BENCH_DIR)/bench_util.o \
		$(filter-out $(BUILD)/daemon/poolmgrd.o,$(DAEMON_OBJS)) \
		$(PROTO_OBJ) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(DAEMON_LIBS)

# A block found by its name among 65,536, on the daemon's pool code.
$(BUILD)/bench/bench_names: $(BENCH_DIR)/bench_names.o \
		$(BENCH_DIR)/bench_util.o \
		$(filter-out $(BUILD)/daemon/poolmgrd.o,$(DAEMON_OBJS)) \
		$(PROTO_OBJ) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(DAEMON_LIBS)

# A block found by its offset among a million, on the daemon's pool code.
$(BUILD)/bench/bench_lookup: $(BENCH_DIR)/bench_lookup.o \
		$(BENCH_DIR)/bench_util.o \
		$(filter-out $(BUILD)/daemon/poolmgrd.o,$(DAEMON_OBJS)) \
		$(PROTO_OBJ) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(ENGINE_LIB) $(DAEMON_LIBS)

$(BENCH_DIR)/%.o: tests/bench/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bench/bench_boost: $(BENCH_DIR)/bench_boost.o $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $^ -lpthread -lrt

# The suite once as built, then again under AddressSanitizer and UBSan.
# The integration tests run with the client-side cache on (the default);
# in the plain build they run once more with it off.
# The tests where many threads share a handle run once more under
# ThreadSanitizer (TSAN_TESTS, below).
# The trees are built with as many jobs as there are CPUs, unless make was
# given -j itself; tests/run.sh runs the programs TEST_JOBS at a time (2,
# or 1 on one CPU), TEST_ALONE's by themselves: they count what other
# clients get done while the daemon works in steps, or time a real
# systemd's watchdog.  TEST_WAITING's mostly sleep (out the daemon's idle
# timers, its status interval, its log's 10 s windows, its looks at kept
# connections, connect bounds, restarts' probes, crashed daemons' ends):
# they run in two lanes of their own beside the two busy ones
# (TEST_WAIT_JOBS, 2), which take them too once their own are done.  They
# use little CPU (less than half their wall time, under ASan too; most a
# tenth or less), so the busy ones keep the CPUs much as before.
# TEST_FIRST's, the longest, start before the rest of their lane, in the
# list's order: test_lint.sh and test_fuzz_smoke.sh, which keep both CPUs
# busy, not side by side (itest_memory, mostly waiting for idle timers,
# beside the busiest); itest_destroy_fork first of the TSan tree's.
# itest_memory's bounds are the daemon's own memory and wakeups: it passed
# beside two busy loops, plain and under ASan.
RESULTS := $(BUILD)/test-results.txt $(BUILD)/test-results-nocache.txt \
           $(BUILD)/asan/test-results.txt $(BUILD)/tsan/test-results.txt
# Wall and CPU seconds of each build and run phase, for tests/summary.sh.
PHASES := $(BUILD)/test-phases.txt
timed   = /usr/bin/time -a -o $(PHASES) -f '$(1) %e %U %S'
jobs    = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1))
ASAN_FLAGS := BUILD=$(BUILD)/asan SAN=1 OPT=-O1
TEST_ALONE ?= itest_release itest_wait itest_dropping systemd_real.sh
TEST_WAITING ?= itest_memory itest_logs itest_notify itest_connect \
                itest_silent itest_restart_guard itest_cache \
                itest_cache_unsent itest_cache_waits itest_poolctl \
                itest_poolctl_admin itest_poolctl_errors \
                itest_alloc_wait itest_alloc_wait_order itest_alloc_wait_parts \
                itest_restart_busy itest_restart_edges itest_unread_fds \
                itest_journal_group itest_nomem itest_alloc_persist
TEST_FIRST ?= test_lint.sh test_heap_random test_block_index itest_python.py \
              test_fuzz_smoke.sh test_cost_flat.sh test_nosystemd.sh \
              itest_destroy_fork itest_threads itest_stress \
              itest_memory itest_unread_fds itest_logs itest_notify \
              itest_journal_group itest_restart_guard itest_nomem \
              itest_connect
export TEST_ALONE TEST_FIRST TEST_WAITING
test: test-deps
	@rm -f $(RESULTS) $(PHASES)
	@mkdir -p $(BUILD)
	-@$(call timed,build) $(MAKE) --no-print-directory $(jobs) check-build
	-@$(call timed,run) $(MAKE) --no-print-directory check-suite
	-@$(call timed,build-asan) $(MAKE) --no-print-directory $(jobs) \
	  check-build $(ASAN_FLAGS)
	-@$(call timed,run-asan) $(MAKE) --no-print-directory check-suite \
	  $(ASAN_FLAGS)
	-@$(call timed,build-tsan) $(MAKE) --no-print-directory $(jobs) \
	  check-tsan-build
	-@$(call timed,run-tsan) $(MAKE) --no-print-directory check-tsan
	@sh tests/summary.sh -p $(PHASES) $(RESULTS)

# itest_limit: two threads set the cache's bounds from their replies, the
# later reply's winning; itest_limits: a refused connection's words, kept
# under the connection's lock; itest_liar: two threads' calls failed by
# one refusal, read by either (itest_liar_features and itest_liar_lists,
# once part of it, with it); itest_destroy_fork: the daemon's closer
# thread.  poolctl is built too: tests run it.
TSAN_TESTS := itest_threads itest_cache itest_cache_unsent \
              itest_cache_waits itest_sharemap_renew \
              itest_cache_threads test_cache_lock itest_limit itest_limits \
              itest_liar itest_liar_features itest_liar_lists \
              itest_destroy_fork
TSAN_FLAGS := BUILD=$(BUILD)/tsan OPT=-O1 CFLAGS_EXTRA=-fsanitize=thread \
              LDFLAGS=-fsanitize=thread
check-tsan-build: test-deps
	@$(MAKE) --no-print-directory $(TSAN_FLAGS) $(BUILD)/tsan/poolmgrd \
	  $(BUILD)/tsan/poolctl $(TSAN_TESTS:%=$(BUILD)/tsan/tests/%)

check-tsan: check-tsan-build
	@POOLMGR_BUILD=$(BUILD)/tsan sh tests/run.sh $(BUILD)/tsan \
	  $(TSAN_TESTS:%=$(BUILD)/tsan/tests/%)

# In a fresh make, as `all` builds, and after it when both are asked for
# (`make all check-build`): two makes building the same files side by side
# would each write what the other links.
check-build: test-deps $(filter all,$(MAKECMDGOALS))
	@$(MAKE) --no-print-directory check-build-files

check-build-files: $(ENGINE_LIB) $(PROGRAMS) $(UNIT_BINS) $(ITEST_BINS) \
		$(COST_DRIVER) $(SD_HOLDER) $(SD_UNREAD) $(PY_ABI)

# Programs the client cache changes nothing in, not run again with the
# cache off:
# - those that mostly wait: the daemon's notifications to systemd (its
#   10 s status interval, itest_notify), its log's rate limits (their 10 s
#   windows, itest_logs), connecting (bounds of seconds, itest_connect) and
#   clients that go silent (itest_silent);
# - itest_unread_fds: what the daemon keeps of clients that leave its
#   replies unread, whose floods are spoken raw; the library's clients
#   there open, close and ask, and one allocates only to hang names on
#   for a listing;
# - those whose clients have no pool handle of the library's, which alone
#   has a cache: itest_books, itest_check_paced, itest_clients,
#   itest_dropping, itest_handles, itest_quota and itest_quota_uids speak
#   the protocol raw (the second and third run poolctl too), itest_list
#   and itest_liar_lists list and ask through a connection and poolctl,
#   itest_probe_exit runs no client;
# - itest_dlclose, whose client sets its own cache's budget.
NOCACHE_SKIP := itest_notify itest_logs itest_connect itest_silent \
                itest_unread_fds itest_books itest_check_paced \
                itest_clients itest_dropping itest_handles itest_quota \
                itest_quota_uids itest_list itest_liar_lists \
                itest_probe_exit itest_dlclose

check-suite: check-build
	-@POOLMGR_BUILD=$(BUILD) sh tests/run.sh $(BUILD) $(UNIT_BINS) \
	  $(ITEST_BINS) $(PY_TESTS) $(SYSTEM_TESTS)
ifneq ($(SAN),1)
	@POOLMGR_BUILD=$(BUILD) POOLMGR_CLIENT_CACHE=0 TEST_TAG=-nocache \
	  sh tests/run.sh $(BUILD) \
	  $(filter-out $(NOCACHE_SKIP:%=$(BUILD)/tests/%),$(ITEST_BINS)) \
	  $(PY_TESTS)
endif

# libFuzzer harnesses (clang): the engine fed operations, and the daemon's
# decoder and dispatch fed datagrams against real pools, the restore of
# a restart in place fed states, the recovery after a crash fed
# journals and keep memfds, and the client library fed a fake daemon's
# replies.
FUZZ_CC      ?= clang
# Every source is compiled once, with the fuzzer's coverage but not its
# main, into $(BUILD)/fuzzobj/; each harness links the objects it needs.
FUZZ_COPTS   := -std=gnu11 -g -O1 -Wall -Wextra -Werror \
                -fno-sanitize-recover=undefined -D_GNU_SOURCE -Idaemon \
                -Iclient -I$(BUILD)/proto $(SD_CFLAGS)
FUZZ_SECONDS ?= 300
FUZZERS      := $(BUILD)/fuzz/fuzz_engine $(BUILD)/fuzz/fuzz_dispatch \
                $(BUILD)/fuzz/fuzz_restore $(BUILD)/fuzz/fuzz_recover \
                $(BUILD)/fuzz/fuzz_client
DAEMON_LIB_SRCS := $(filter-out daemon/poolmgrd.c,$(DAEMON_SRCS))
fuzzobj = $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(1))

$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_COPTS) -fsanitize=fuzzer-no-link,address,undefined \
	  -MMD -MP -c $< -o $@

-include $(wildcard $(BUILD)/fuzzobj/*/*.d $(BUILD)/fuzzobj/*/*/*.d \
	   $(BUILD)/fuzzobj/*/*/*/*.d)

# The protocol's headers come before any source that includes them.
$(call fuzzobj,$(DAEMON_LIB_SRCS) $(LIB_SRCS) $(wildcard tests/fuzz/*.c)): \
	| $(PROTO_H) $(STATE_H)

FUZZ_LINK = @mkdir -p $(dir $@); \
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.o,$^)

$(BUILD)/fuzz/fuzz_engine: $(call fuzzobj,tests/fuzz/fuzz_engine.c \
		$(ENGINE_SRCS))
	$(FUZZ_LINK)

FUZZ_DAEMON_OBJS := $(call fuzzobj,$(filter-out daemon/restore.c, \
		    $(DAEMON_LIB_SRCS)) $(ENGINE_SRCS) $(PROTO_C) $(STATE_C))

$(BUILD)/fuzz/fuzz_dispatch: $(call fuzzobj,tests/fuzz/fuzz_dispatch.c \
		daemon/restore.c) $(FUZZ_DAEMON_OBJS)
	$(FUZZ_LINK) $(DAEMON_LIBS)

# restore.c is included by these harnesses (its static rebuild and
# teardown), so it is not linked again.
$(BUILD)/fuzz/fuzz_restore: $(call fuzzobj,tests/fuzz/fuzz_restore.c) \
		$(FUZZ_DAEMON_OBJS)
	$(FUZZ_LINK) $(DAEMON_LIBS)

$(BUILD)/fuzz/fuzz_recover: $(call fuzzobj,tests/fuzz/fuzz_recover.c) \
		$(FUZZ_DAEMON_OBJS)
	$(FUZZ_LINK) $(DAEMON_LIBS)

# The client library's sources as libpoolclient is made of them.
$(BUILD)/fuzz/fuzz_client: $(call fuzzobj,tests/fuzz/fuzz_client.c \
		$(LIB_SRCS) $(PROTO_C))
	$(FUZZ_LINK) $(LIB_LIBS)

fuzzers: test-deps
	@$(MAKE) --no-print-directory $(FUZZERS)

# Long runs: FUZZ_SECONDS each, growing a corpus under build/fuzz/.
fuzz: fuzzers
	@for f in $(notdir $(FUZZERS)); do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$f; \
	  $(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

# Long stress: many processes, random kills, a daemon restart.
# Then the crash model at STRESS_MODEL_ROUNDS rounds (1000 in make test).
STRESS_PROCS ?= 8
STRESS_OPS   ?= 1000000
STRESS_MODEL_ROUNDS ?= 30000
stress: $(BUILD_DEPS)
	@$(MAKE) --no-print-directory $(BUILD)/tests/itest_stress \
	  $(BUILD)/tests/itest_crash_model $(BUILD)/poolmgrd $(FAIL_GROW)
	POOLMGR_BUILD=$(BUILD) POOLMGR_STRESS_PROCS=$(STRESS_PROCS) \
	  POOLMGR_STRESS_OPS=$(STRESS_OPS) $(BUILD)/tests/itest_stress
	POOLMGR_BUILD=$(BUILD) POOLMGR_MODEL_ROUNDS=$(STRESS_MODEL_ROUNDS) \
	  $(BUILD)/tests/itest_crash_model

# poolmgrd under a real systemd, booted in a throwaway container (as root;
# skips where that cannot be done), alone: `make test` runs it too, in the
# plain suite's system tests (TEST_ALONE).
test-systemd: test-deps
	@$(MAKE) --no-print-directory $(PROGRAMS) $(SD_HOLDER) $(SD_UNREAD)
	POOLMGR_BUILD=$(BUILD) sh tests/system/systemd_real.sh

lint: test-deps
	@sh tests/system/test_lint.sh

# Units, the pkg-config file, the installed binding and two man pages name
# the installed paths, so they are made again whenever those change (`make`
# then `make install PREFIX=/usr`): the stamp is rewritten only when its
# text differs.
PATHS_STAMP := $(BUILD)/paths.stamp
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(SBINDIR) $(SYSCONFDIR)' \
	  '$(EXAMPLEDIR) $(BASHCOMPDIR)' > $@.new; \
	cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@

FORCE:

$(BUILD)/systemd/%: systemd/%.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

$(BUILD)/poolclient.pc: client/poolclient.pc.in $(PATHS_STAMP)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' $< > $@

$(BUILD)/man/man3/%.3:
	@mkdir -p $(dir $@)
	echo '.so man3/libpoolclient.3' > $@

# The pages' FILES name where the examples and the completion are under
# /usr/local: as installed, they name this install's directories (its
# hyphens escaped as the pages write them).
roffpath = $(subst -,\\-,$(1))
$(BUILD)/man/man1/poolctl.1: docs/poolctl.1
$(BUILD)/man/man3/libpoolclient.3: docs/libpoolclient.3
$(MAN_PATHS): $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	sed -e 's|/usr/local/share/doc/poolmgr/examples|$(call roffpath,$(EXAMPLEDIR))|g' \
	    -e 's|/usr/local/share/bash\\-completion/completions|$(call roffpath,$(BASHCOMPDIR))|g' \
	    $(filter docs/%,$^) > $@

# The binding as installed: it loads the library from LIBDIR first.
$(BUILD)/python/poolclient_lib.py: client/poolclient_lib.py $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	sed -e 's|^_LIBDIR = None$$|_LIBDIR = "$(LIBDIR)"|' $< > $@

# What install copies and nothing more: `sudo make install` builds no test.
INSTALL_FILES := $(BUILD)/poolmgrd $(BUILD)/poolctl $(LIB_SO) $(LIB_A_PUBLIC) \
                 $(BUILD)/poolclient.pc $(UNITS) $(MAN3_ALIAS_PAGES) \
                 $(MAN_PATHS) $(BUILD)/python/poolclient_lib.py \
                 client/poolctl.bash

# An install into the system (no DESTDIR) refreshes the dynamic loader's
# cache, as installs of libtool libraries do, so that programs linked with
# -lpoolclient find libpoolclient.so.1 at once; a staged install leaves
# that to the package it becomes.
install: $(INSTALL_FILES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(PYTHONDIR) \
	  $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(EXAMPLEDIR)
	install -m 0755 $(BUILD)/poolmgrd $(DESTDIR)$(SBINDIR)/poolmgrd
	install -m 0755 $(BUILD)/poolctl $(DESTDIR)$(BINDIR)/poolctl
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libpoolclient.so.1.0.0
	ln -sf libpoolclient.so.1.0.0 $(DESTDIR)$(LIBDIR)/libpoolclient.so.1
	ln -sf libpoolclient.so.1 $(DESTDIR)$(LIBDIR)/libpoolclient.so
	install -m 0644 $(LIB_A_PUBLIC) $(DESTDIR)$(LIBDIR)/libpoolclient.a
	install -m 0644 client/poolclient.h $(DESTDIR)$(INCLUDEDIR)/poolclient.h
	install -m 0644 $(BUILD)/poolclient.pc $(DESTDIR)$(PKGCONFIGDIR)/poolclient.pc
	install -m 0644 $(BUILD)/man/man1/poolctl.1 $(DESTDIR)$(MANDIR)/man1/poolctl.1
	install -m 0644 $(BUILD)/man/man3/libpoolclient.3 \
	  $(DESTDIR)$(MANDIR)/man3/libpoolclient.3
	install -m 0644 $(MAN3_ALIAS_PAGES) $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 docs/poolmgrd.conf.5 $(DESTDIR)$(MANDIR)/man5/poolmgrd.conf.5
	install -m 0644 docs/poolmgrd.8 $(DESTDIR)$(MANDIR)/man8/poolmgrd.8
	install -m 0644 client/poolctl.bash $(DESTDIR)$(BASHCOMPDIR)/poolctl
	install -m 0644 client/examples/producer.c client/examples/consumer.c \
	  client/examples/frames.c client/examples/workers.py \
	  client/examples/Makefile $(DESTDIR)$(EXAMPLEDIR)/
	install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 0644 systemd/poolmgrd.sysusers $(DESTDIR)$(SYSUSERSDIR)/poolmgrd.conf
	install -m 0644 client/poolclient.py client/poolclient_handle.py \
	  $(BUILD)/python/poolclient_lib.py $(DESTDIR)$(PYTHONDIR)/
	@if [ -z "$(DESTDIR)" ]; then \
	  PATH="$$PATH:/sbin:/usr/sbin"; \
	  if command -v $(LDCONFIG) >/dev/null 2>&1; then \
	    echo "$(LDCONFIG)"; \
	    if ! $(LDCONFIG); then \
	      echo "make install: $(LDCONFIG) failed: run it as root, or" \
	        "programs will not find libpoolclient.so.1"; \
	    else \
	      lib=$$(readlink -f $(LIBDIR)/libpoolclient.so.1); \
	      $(LDCONFIG) -p | sed -n 's/.*libpoolclient\.so\.1 .*=> //p' | \
	        while read -r f; do readlink -f "$$f"; done | \
	        grep -qxF "$$lib" || \
	      echo "make install: the dynamic loader does not look in" \
	        "$(LIBDIR): add it to /etc/ld.so.conf.d/ and run ldconfig"; \
	    fi; \
	  fi; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/poolmgrd $(DESTDIR)$(BINDIR)/poolctl \
	  $(DESTDIR)$(LIBDIR)/libpoolclient.so.1.0.0 \
	  $(DESTDIR)$(LIBDIR)/libpoolclient.so.1 \
	  $(DESTDIR)$(LIBDIR)/libpoolclient.so $(DESTDIR)$(LIBDIR)/libpoolclient.a \
	  $(DESTDIR)$(INCLUDEDIR)/poolclient.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/poolclient.pc \
	  $(DESTDIR)$(MANDIR)/man1/poolctl.1 \
	  $(DESTDIR)$(MANDIR)/man3/libpoolclient.3 \
	  $(MAN3_ALIASES:%=$(DESTDIR)$(MANDIR)/man3/%.3) \
	  $(DESTDIR)$(MANDIR)/man5/poolmgrd.conf.5 \
	  $(DESTDIR)$(MANDIR)/man8/poolmgrd.8 \
	  $(DESTDIR)$(BASHCOMPDIR)/poolctl \
	  $(DESTDIR)$(EXAMPLEDIR)/producer.c $(DESTDIR)$(EXAMPLEDIR)/consumer.c \
	  $(DESTDIR)$(EXAMPLEDIR)/frames.c $(DESTDIR)$(EXAMPLEDIR)/workers.py \
	  $(DESTDIR)$(EXAMPLEDIR)/Makefile \
	  $(DESTDIR)$(UNITDIR)/poolmgrd.service \
	  $(DESTDIR)$(UNITDIR)/poolmgrd.socket \
	  $(DESTDIR)$(SYSUSERSDIR)/poolmgrd.conf \
	  $(DESTDIR)$(PYTHONDIR)/poolclient.py \
	  $(DESTDIR)$(PYTHONDIR)/poolclient_handle.py \
	  $(DESTDIR)$(PYTHONDIR)/poolclient_lib.py \
	  $(DESTDIR)$(PYTHONDIR)/__pycache__/poolclient.*.pyc \
	  $(DESTDIR)$(PYTHONDIR)/__pycache__/poolclient_handle.*.pyc \
	  $(DESTDIR)$(PYTHONDIR)/__pycache__/poolclient_lib.*.pyc
	-rmdir $(DESTDIR)$(EXAMPLEDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null

# Engine alone, then end to end; the plot is drawn from what was measured.
bench: bench-deps
	@$(MAKE) --no-print-directory $(BENCH_BINS) $(BUILD)/poolmgrd
	$(BUILD)/bench/bench_engine
	POOLMGR_BUILD=$(BUILD) sh tests/bench/bench_instr.sh
	$(BUILD)/bench/bench_speed --data $(BENCH_DATA)
	$(BUILD)/bench/bench_release
	$(BUILD)/bench/bench_handles
	$(BUILD)/bench/bench_lookup
	$(BUILD)/bench/bench_names
	$(BUILD)/bench/bench_rebuild
	$(BUILD)/bench/bench_restart --poolmgrd $(BUILD)/poolmgrd
	$(BUILD)/bench/bench_renew --poolmgrd $(BUILD)/poolmgrd
	$(BUILD)/bench/bench_journal
	$(BUILD)/bench/bench_journal --pause
	POOLMGR_BUILD=$(BUILD) python3 tests/bench/bench_python.py
	$(BUILD)/bench/bench_hugepage --poolmgrd $(BUILD)/poolmgrd
	$(BUILD)/bench/bench_blocks --poolmgrd $(BUILD)/poolmgrd
	$(BUILD)/bench/bench_alloc_wait --poolmgrd $(BUILD)/poolmgrd
	gnuplot -e "data='$(BENCH_DATA)'; out='$(BENCH_PLOT)'" \
	  tests/bench/shared_heap.gp

# The engine's instructions per operation beside the yardsticks (callgrind).
bench-instr: bench-deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/bench_engine
	POOLMGR_BUILD=$(BUILD) sh tests/bench/bench_instr.sh

# What only the benchmarks need, installed the way deps installs.
.PHONY: bench-deps
bench-deps: $(BUILD_DEPS)
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_DEB_PKGS)" \
	  DEPS_GOALS="$(MAKECMDGOALS)"

RUN_DIR := $(CURDIR)/run
# `sudo make run` in one's own checkout: root installs what is missing, and
# the build and the daemon are the caller's, as `make run` makes them once
# the packages are there.  A daemon of root's would keep the caller's
# clients out of its socket and pool, listen in a directory the caller owns
# (which it warns of), and leave build/ and run/ root's, for the caller's
# next make to be refused.  RUN_USER= keeps root.  What an earlier make as
# root left in build/ or run/ is named, and nothing started: the caller's
# build would be refused there half way.  Root without sudo's variables
# (`su -c 'make run'`, where there is no sudo) is taken for the checkout's
# owner the same way, when that owner is not root: su does not say who
# called it, and a checkout of another's is theirs to build in.
RUN_USER ?= $(if $(filter run,$(MAKECMDGOALS)),$(shell \
            [ "$$(id -u)" = 0 ] && owner=$$(stat -c %u $(CURDIR)) && \
            [ "$$owner" != 0 ] && [ "$(or $(SUDO_UID),$$owner)" = "$$owner" ] && \
            getent passwd "$$owner" | cut -d: -f1))
# A first build on every CPU, unless the caller's make has jobs of its own
# (make -jN run: its jobserver serves the sub-make).
RUN_JOBS := $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1))
run: $(BUILD_DEPS)
ifneq ($(RUN_USER),)
	@left=$$(find $(abspath $(BUILD)) $(RUN_DIR) ! -user $(RUN_USER) \
	  -print -quit 2>/dev/null); \
	if [ -n "$$left" ]; then \
	  echo "make run: $$left is not $(RUN_USER)'s (a make as root made it?)," \
	    "so $(RUN_USER) cannot build and run here:"; \
	  echo "  remove what root made" \
	    "(as root: rm -rf $(abspath $(BUILD)) $(RUN_DIR)), or run poolmgrd" \
	    "as root (make run RUN_USER=, by sudo or su)"; \
	  exit 1; \
	fi
	@echo "make run: building and running poolmgrd as $(RUN_USER), whose" \
	  "checkout this is (root only installs packages)"
	@runuser -u $(RUN_USER) -- $(MAKE) --no-print-directory $(RUN_JOBS) \
	  run-daemon
else
	@$(MAKE) --no-print-directory $(RUN_JOBS) run-daemon
endif

run-daemon: $(PROGRAMS)
	@mkdir -p $(RUN_DIR)
	@printf '[pool default]\nsize = 256M\nmode = 0600\n' > $(RUN_DIR)/poolmgrd.conf
	@echo "poolmgrd: socket $(RUN_DIR)/poolmgrd.sock, pool 'default' (256 MiB)"
	@echo "In another shell:"
	@echo "  export POOLMGRD_SOCKET=$(RUN_DIR)/poolmgrd.sock"
	@echo "  $(BUILD)/poolctl stats"
	@echo "  $(BUILD)/examples/producer default 'hello' | $(BUILD)/examples/consumer default"
	@echo "  $(BUILD)/examples/producer -n greeting default 'hello'; $(BUILD)/examples/consumer default greeting"
	@echo "Stop with Ctrl-C."
	exec $(BUILD)/poolmgrd --socket $(RUN_DIR)/poolmgrd.sock --config $(RUN_DIR)/poolmgrd.conf

# Install the Debian packages that are missing: with apt-get when root,
# otherwise print the command that installs them and the make to run
# again.  A fresh Debian has sudo only where it was set up at install, so
# without it the command is su's; either updates the package lists first,
# as root's make does, for a machine whose lists are old or were never
# fetched.  DEPS_GOALS: the goals of the make that asked (bench-deps).
# test-deps checks the build's packages and the tests' together, so that
# a fresh machine's `make test` installs, or asks for, all in one command.
DEPS_GOALS ?= $(MAKECMDGOALS)
deps: DEPS_PKGS = $(DEB_PKGS)
test-deps: DEPS_PKGS = $(DEB_PKGS) $(TEST_DEB_PKGS)
deps test-deps:
	@missing=""; \
	for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing packages:$$missing"; \
	    echo "install them as root, then run" \
	      "'make$(if $(DEPS_GOALS), $(DEPS_GOALS))' again:"; \
	    if command -v sudo >/dev/null; then \
	      echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    else \
	      echo "  su -c 'apt-get update && apt-get install -y$$missing'"; \
	    fi; \
	    exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(or $(BUILD),build)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Keep intermediate objects: no rebuilds, no "rm" noise.
.SECONDARY:
