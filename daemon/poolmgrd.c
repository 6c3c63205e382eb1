/*
 * poolmgrd.c - the shared-memory pool manager daemon: arguments and start.
 *
 * poolmgrd [--socket PATH] [--config FILE] [--verbose]
 * poolmgrd --restart-probe
 *
 * Runs in the foreground, logs to stderr with syslog priority prefixes.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "restart_probe.h"
#include "restore_fds.h"
#include "server.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: poolmgrd [--socket PATH] [--config FILE] [--verbose]\n"
		"\n"
		"  -s, --socket PATH   listen on PATH (default %s)\n"
		"  -c, --config FILE   read pools and settings from FILE (INI)\n"
		"  -v, --verbose       also log connections and refused requests\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n"
		"      --restart-probe print the state versions a restart in "
		"place\n"
		"                      may hand this binary, and exit\n",
		"/run/poolmgrd/poolmgrd.sock");
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"restart-probe", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	struct server_opts so = {0};
	static struct config cf;
	char err[512];
	int ch;

	while ((ch = getopt_long(argc, argv, "s:c:vh", opts, NULL)) != -1) {
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
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("poolmgrd 0.1.0\n");
			return 0;
		case 'P':
			restart_probe_answer();
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	so.argv = argv;
	config_defaults(&cf);
	/* Fatal only if there is nothing to restore: server_run decides. */
	if (so.config_path && load_config(&cf, so.config_path, err,
					  sizeof(err)) != 0) {
		config_defaults(&cf);
		so.config_error = err;
	}
	return server_run(&so, &cf);
}
