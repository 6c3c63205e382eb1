/*
 * poolmgrd.c - the shared-memory pool manager daemon: arguments and start.
 *
 * poolmgrd [--socket PATH] [--config FILE] [--verbose]
 * poolmgrd --check-config --config FILE [--socket PATH]
 * poolmgrd --help | --version | --restart-probe
 *
 * Runs in the foreground, logs to stderr with syslog priority prefixes.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config.h"
#include "log.h"
#include "pool_numa.h"
#include "restart.h"
#include "restart_probe.h"
#include "restore_fds.h"
#include "server.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: poolmgrd [--socket PATH] [--config FILE] [--verbose]\n"
		"       poolmgrd --check-config --config FILE [--socket PATH]\n"
		"       poolmgrd --help | --version | --restart-probe\n"
		"\n"
		"  -s, --socket PATH   listen on PATH (default %s)\n"
		"  -c, --config FILE   read pools and settings from FILE (INI)\n"
		"  -v, --verbose       also log connections and refused requests\n"
		"  -t, --check-config  check FILE (and the socket path) as a "
		"start\n"
		"                      would, say what is wrong, and exit\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n"
		"      --restart-probe print the state versions a restart in "
		"place\n"
		"                      may hand this binary, and exit\n",
		"/run/poolmgrd/poolmgrd.sock");
}

/*
 * A usage error: what was wrong, as poolctl says its own, and where the
 * whole usage is; 2, the exit code the manual gives usage errors.
 */
static int usage_error(const char *, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("poolmgrd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'poolmgrd --help' for more information.\n", stderr);
	return 2;
}

/*
 * The long option word names (before any "="): the one it spells out, or
 * the one it is the start of; NULL if none, *ambiguous if several.
 */
static const struct option *
long_option_named(const struct option *opts, const char *word,
		  bool *ambiguous)
{
	size_t len = strcspn(word, "=");
	const struct option *found = NULL;
	int matches = 0;

	for (; opts->name; opts++) {
		if (strncmp(opts->name, word, len) != 0)
			continue;
		if (opts->name[len] == '\0')
			return opts;
		found = opts;
		matches++;
	}
	*ambiguous = matches > 1;
	return matches == 1 ? found : NULL;
}

/*
 * An option getopt_long refused ('?').  word is argv[optind - 1]: a long
 * option's own word, but for a short one inside a cluster ("-xv") an
 * earlier word, so a short one is named by optopt alone.
 */
static int
bad_option(const struct option *opts, const char *word)
{
	const struct option *o = NULL;
	bool ambiguous = false;
	size_t len;

	if (strncmp(word, "--", 2) == 0)
		o = long_option_named(opts, word + 2, &ambiguous);
	/* A long option without arguments given one ("--verbose=1"). */
	if (optopt != 0 && o && o->val == optopt && strchr(word, '='))
		return usage_error("option '--%s' takes no argument", o->name);
	if (optopt != 0)
		return usage_error("unknown option '-%c'", optopt);
	len = strcspn(word, "=");
	if (ambiguous)
		return usage_error("option '%.*s' is ambiguous", (int)len,
				   word);
	return usage_error("unknown option '%.*s'", (int)len, word);
}

/*
 * The file, or after a restart in place the text the old image checked
 * (restart.c): the file may have changed since.
 */
static int
load_config(struct config *cf, const char *path, char *err, size_t len)
{
	size_t n;
	char *text;
	int rc;

	switch (restore_fds_config(&text, &n)) {
	case 0:
		return config_load(cf, path, err, len);
	case 1:
		log_info("configuration: %s as it was when the restart "
			 "checked it", path);
		rc = config_load_text(cf, path, text, n, err, len);
		free(text);
		return rc;
	default:
		snprintf(err, len, "the configuration a restart passed cannot "
			 "be read");
		return -1;
	}
}

/*
 * Could a start bind path, as far as looking can tell?  A start removes a
 * stale socket there but nothing else, and makes the socket's directory
 * but not its parents (server_listen.c's listen_on).  Permissions are
 * left out:
 * the check may run as another user than the start.  0, or 1 with the
 * problem on stderr.
 */
static int
check_socket_path(const char *path)
{
	/* The path fits a socket address (check_config saw to it). */
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char parent[sizeof(dir)], tmp[sizeof(dir)];
	struct stat sb;

	if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "poolmgrd: %s exists and is not a socket\n",
			path);
		return 1;
	}
	/* bind makes no name with a trailing '/': only mkdir does. */
	if (path[strlen(path) - 1] == '/') {
		fprintf(stderr, "poolmgrd: %s: a socket path cannot end in "
			"'/'\n", path);
		return 1;
	}
	/* dirname may write into its argument, and return it. */
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	if (stat(dir, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			return 0;
		fprintf(stderr, "poolmgrd: %s: the socket's directory %s is "
			"not a directory\n", path, dir);
		return 1;
	}
	/* The start's mkdir finds the name taken; its bind, no directory. */
	if (lstat(dir, &sb) == 0) {
		fprintf(stderr, "poolmgrd: %s: the socket's directory %s is a "
			"symlink to nothing\n", path, dir);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s", dir);
	snprintf(parent, sizeof(parent), "%s", dirname(tmp));
	if (stat(parent, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	fprintf(stderr, "poolmgrd: %s: the socket's directory %s cannot be "
		"made: %s is %s\n", path, dir, parent,
		stat(parent, &sb) == 0 ? "not a directory" : "missing");
	return 1;
}

/*
 * A pool placed on a NUMA node with no memory here is not made by a start
 * (server_pools.c logs that it cannot create it): said as the start
 * would, as a warning, for the file is right and another machine may
 * have the node.
 */
static void
check_numa_nodes(const struct config *cf)
{
	unsigned i;

	for (i = 0; i < cf->npools; i++)
		if (cf->pools[i].has_numa_node &&
		    dpool_numa_has_memory(DPOOL_NUMA_HAS_MEMORY,
					  cf->pools[i].numa_node) == 0)
			fprintf(stderr, "poolmgrd: [pool %s]: NUMA node %u has "
				"no memory here: a start would not make the "
				"pool\n", cf->pools[i].name,
				cf->pools[i].numa_node);
}

/*
 * --check-config: what a start would refuse in the file, and the socket
 * path it would bind; nothing else is touched (no socket, no daemon
 * asked).  0, 1 with the problem on stderr, or 2 without a file.
 */
static int
check_config(const struct server_opts *so, struct config *cf)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	const char *path, *from;
	char err[512];

	if (!so->config_path)
		return usage_error("--check-config needs --config FILE");
	if (config_load(cf, so->config_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "poolmgrd: %s\n", err);
		return 1;
	}
	/* Loads, as a start would, which would log these. */
	for (unsigned i = 0; i < cf->nwarnings; i++)
		fprintf(stderr, "poolmgrd: %s\n", cf->warnings[i]);
	/*
	 * Named by where it came from: a path --socket gives is none of the
	 * file's, which is good; and said as a start says it, with the bound.
	 */
	path = so->socket_path ? so->socket_path : cf->socket;
	from = so->socket_path ? "--socket" : so->config_path;
	if (*path == '\0') {
		fprintf(stderr, "poolmgrd: %s: the socket path is empty\n",
			from);
		return 1;
	}
	if (strlen(path) > max) {
		fprintf(stderr, "poolmgrd: %s: socket path too long (%zu bytes, "
			"at most %zu): %s\n", from, strlen(path), max, path);
		return 1;
	}
	if (check_socket_path(path))
		return 1;
	check_numa_nodes(cf);
	printf("poolmgrd: %s: ok, %u pool%s\n", so->config_path, cf->npools,
	       cf->npools == 1 ? "" : "s");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"check-config", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"restart-probe", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct server_opts so = {0};
	static struct config cf;
	char err[512];
	bool check = false;
	int ch;

	restart_note_binary();
	/* The leading ':' and opterr: the errors are said in our words. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":s:c:vth", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			so.socket_path = optarg;
			break;
		case 'c':
			so.config_path = optarg;
			break;
		case 'v':
			log_set_verbose(1);
			break;
		case 't':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("poolmgrd 0.1.0\n");
			return 0;
		case 'P':
			restart_probe_answer();
			return 0;
		case ':':
			/* Only ever the last word: argv[optind - 1]. */
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return usage_error("option '%s' needs an "
						   "argument", argv[optind - 1]);
			return usage_error("option '-%c' needs an argument",
					   optopt);
		default:
			return bad_option(opts, argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	so.argv = argv;
	config_defaults(&cf);
	if (check)
		return check_config(&so, &cf);
	/* Fatal only if there is nothing to restore: server_run decides. */
	if (so.config_path && load_config(&cf, so.config_path, err,
					  sizeof(err)) != 0) {
		config_defaults(&cf);
		so.config_error = err;
	}
	for (unsigned i = 0; i < cf.nwarnings; i++)
		log_warnx("%s", cf.warnings[i]);
	return server_run(&so, &cf);
}
