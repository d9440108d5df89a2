// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintd: options, the configuration, daemonizing, the pidfile, signals
 * and libvirt's event loop (vmhintd(8)).
 *
 * Signals reach the loop through a self-pipe: the handlers only write the
 * signal's number, and everything they ask for (stop, reload) runs from
 * the loop like any other event.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmhint/common.h>

#include "commands.h"
#include "conf.h"
#include "control.h"
#include "domains.h"
#include "ksm-owner.h"
#include "log.h"
#include "util.h"

/*
 * The file vmhintd reads without -c: configure's sysconfdir, where make
 * install puts it (data/Makemodule.am), passed by make as the autoconf
 * manual suggests for installation directories.
 */
#ifndef VHD_SYSCONFDIR
#error "VHD_SYSCONFDIR (configure's sysconfdir) must come from the Makefile"
#endif
#define VHD_CONF_PATH	VHD_SYSCONFDIR "/vmhint/vmhintd.conf"

struct opts {
	const char *config;
	const char *pidfile;
	bool daemon;
	bool verbose;
	int log;			/* VHD_LOG_*, -1: the config's */
	bool check_config;
	bool print_config;
};

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t quit;
static int pid_fd = -1;
static char pid_path[256];

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vmhintd [OPTION]...\n"
"The vmhint daemon: applies the vmhint policy of libvirt domains, owns KSM.\n"
"\n"
"  -f, --foreground     stay in the foreground (the default)\n"
"  -d, --daemon         detach, write the pidfile, log to syslog\n"
"  -c, --config FILE    the configuration (default " VHD_CONF_PATH ")\n"
"  -p, --pidfile FILE   the pidfile (default: the configuration's)\n"
"      --log stderr|syslog  where to log\n"
"  -v, --verbose        log debug messages\n"
"      --check-config   check the configuration and exit\n"
"      --print-config   print the configuration in effect and exit\n"
"  -V, --version        print the version and exit\n"
"  -h, --help           print this help and exit\n");
}

/* Return: 0 go on, 1 exit 0 (help, version), -1 exit 1. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_LOG = 256, OPT_CHECK, OPT_PRINT };
	static const struct option lo[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "print-config", no_argument, NULL, OPT_PRINT },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->log = -1;
	while ((c = getopt_long(argc, argv, "fdc:p:vVh", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->daemon = false; break;
		case 'd': o->daemon = true; break;
		case 'c': o->config = optarg; break;
		case 'p': o->pidfile = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_CHECK: o->check_config = true; break;
		case OPT_PRINT: o->print_config = true; break;
		case OPT_LOG:
			if (!strcmp(optarg, "stderr"))
				o->log = VHD_LOG_STDERR;
			else if (!strcmp(optarg, "syslog"))
				o->log = VHD_LOG_SYSLOG;
			else {
				fprintf(stderr, "vmhintd: --log takes stderr or "
					"syslog, not '%s'\n", optarg);
				return -1;
			}
			break;
		case 'V':
			printf("vmhintd %s (libvmhint %s)\n", PACKAGE_VERSION,
			       vmhint_version());
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmhintd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int load_conf(const struct opts *o, struct vhd_conf *c)
{
	char err[512];

	vhd_conf_defaults(c);
	/* The default file may be missing; a file named with -c may not. */
	if (vhd_conf_load(c, o->config ? o->config : VHD_CONF_PATH,
			  o->config != NULL, err, sizeof(err))) {
		vhd_err("%s", err);
		return -1;
	}
	if (o->pidfile)
		snprintf(c->pidfile, sizeof(c->pidfile), "%s", o->pidfile);
	return 0;
}

static void open_log(const struct opts *o, const struct vhd_conf *c)
{
	int target = o->log >= 0 ? o->log : (int)c->log;
	bool use_syslog = target == VHD_LOG_SYSLOG ||
			  (target == VHD_LOG_AUTO && o->daemon);

	vhd_log_close();
	vhd_log_open(use_syslog, o->verbose ? LOG_DEBUG : c->log_level);
}

/* --- pidfile ------------------------------------------------------------- */


/*
 * The pidfile, locked for the daemon's life: a second vmhintd (in the
 * foreground too: two would fight over KSM) finds the lock taken.
 */
static int pidfile_take(const char *path)
{
	char buf[32];
	ssize_t n;

	vhd_mkdir_parents(path);
	pid_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pid_fd < 0) {
		vhd_err("cannot open pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(pid_fd, LOCK_EX | LOCK_NB)) {
		n = pread(pid_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		vhd_err("vmhintd already running (pid %s)", buf[0] ? buf : "?");
		close(pid_fd);
		pid_fd = -1;
		return -1;
	}
	snprintf(pid_path, sizeof(pid_path), "%s", path);
	return 0;
}

static void pidfile_write(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(pid_fd, 0) || pwrite(pid_fd, buf, n, 0) != n)
		vhd_warn("cannot write pidfile %s: %s", pid_path, strerror(errno));
}

static void pidfile_remove(void)
{
	if (pid_fd < 0)
		return;
	unlink(pid_path);
	close(pid_fd);
	pid_fd = -1;
}

/* --- daemonizing ------------------------------------------------------------ */

/*
 * Double fork. The first parent waits on @ready for the daemon to say
 * that it started (a byte 0) or not (no byte), so `vmhintd -d` exits 1
 * when the daemon could not start, as a service manager expects.
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	char b;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		exit(read(p[0], &b, 1) == 1 && b == 0 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/"))
		return -1;
	umask(022);
	*ready_fd = p[1];
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* --- signals ---------------------------------------------------------------- */

static void on_signal(int sig)
{
	unsigned char b = sig;
	int saved = errno;

	(void)!write(sig_pipe[1], &b, 1);
	errno = saved;
}

struct reload_ctx {
	const struct opts *o;
	struct vhd_conf *conf;
	struct vhd_ksm *ksm;
};

static void reload(const struct opts *o, struct vhd_conf *conf, struct vhd_ksm *ksm)
{
	struct vhd_conf nc;

	vhd_notice("SIGHUP: reloading %s", o->config ? o->config : VHD_CONF_PATH);
	if (load_conf(o, &nc)) {
		vhd_warn("configuration not reloaded: keeping the one in effect");
		return;
	}
	if (strcmp(nc.socket_path, conf->socket_path) ||
	    strcmp(nc.socket_group, conf->socket_group))
		vhd_warn("socket settings changed: they apply after a restart");
	if (strcmp(nc.state_dir, conf->state_dir)) {
		/* Where a burst saves the knobs must not move under it. */
		vhd_warn("state_dir changed: it applies after a restart (the KSM state file "
			 "stays in %s until then)", conf->state_dir);
		snprintf(nc.state_dir, sizeof(nc.state_dir), "%s", conf->state_dir);
	}
	*conf = nc;
	open_log(o, conf);
	/* The KSM owner takes the new ksm settings; a running burst keeps its own. */
	vhd_ksm_reconfigure(ksm, conf);
	vhd_domains_reload(conf);
}

static void signal_io(int watch, int fd, int events, void *opaque)
{
	struct reload_ctx *rc = opaque;
	unsigned char b;

	while (read(fd, &b, 1) == 1) {
		if (b == SIGHUP) {
			reload(rc->o, rc->conf, rc->ksm);
		} else {
			vhd_notice("%s: stopping", strsignal(b));
			quit = 1;
		}
	}
}

static int signals_init(struct reload_ctx *rc)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC))
		return -1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -1;
	/* A client that left must not kill the daemon on the next write. */
	signal(SIGPIPE, SIG_IGN);
	return virEventAddHandle(sig_pipe[0], VIR_EVENT_HANDLE_READABLE,
				 signal_io, rc, NULL) < 0 ? -1 : 0;
}

/* --- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct vhd_conf conf;
	struct reload_ctx rc = { &o, &conf, NULL };
	struct vhd_ksm *ksm = NULL;
	char err[512];
	int ready_fd = -1, ret;

	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : 1;
	if (load_conf(&o, &conf))
		return 1;
	if (o.check_config || o.print_config) {
		if (o.print_config)
			vhd_conf_print(&conf, stdout);
		else
			printf("%s: OK\n", o.config ? o.config : VHD_CONF_PATH);
		return 0;
	}
	if (geteuid() != 0) {
		vhd_err("vmhintd must run as root (it owns KSM and reads every "
			"domain's QMP socket)");
		return 1;
	}
	if (o.daemon && daemonize(&ready_fd)) {
		vhd_err("cannot daemonize: %s", strerror(errno));
		return 1;
	}
	/* Startup errors go to the terminal, also with -d (only warnings
	 * and errors then): the log moves to its target once it runs. */
	vhd_log_open(false, o.daemon ? LOG_WARNING :
		     o.verbose ? LOG_DEBUG : conf.log_level);
	if (pidfile_take(conf.pidfile))
		return 1;
	if (virEventRegisterDefaultImpl() < 0 || signals_init(&rc)) {
		vhd_err("cannot set up the event loop");
		goto fail;
	}
	ret = vhd_ksm_new(&conf, &ksm);
	if (ret < 0)
		vhd_warn("KSM: %s: KSM stays as it is", strerror(-ret));
	rc.ksm = ksm;
	vhd_commands_init(&conf, ksm);
	if (vhd_control_start(&conf, err, sizeof(err))) {
		vhd_err("%s", err);
		goto fail;
	}
	if (vhd_domains_start(&conf, ksm)) {
		vhd_err("cannot start watching libvirt domains");
		goto fail;
	}
	pidfile_write();
	open_log(&o, &conf);
	vhd_notice("vmhintd %s started (pid %d, %s)", PACKAGE_VERSION,
		   (int)getpid(), conf.uri);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
		detach_stdio();
	}
	while (!quit)
		if (virEventRunDefaultImpl() < 0)
			break;
	/* Clients first: nothing replies into a socket that is gone. */
	vhd_control_stop();
	vhd_domains_stop();
	vhd_ksm_free(ksm);
	pidfile_remove();
	vhd_notice("vmhintd stopped");
	vhd_log_close();
	return 0;
fail:
	vhd_control_stop();
	vhd_domains_stop();
	vhd_ksm_free(ksm);
	pidfile_remove();
	return 1;
}
