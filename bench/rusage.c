/*
 * rusage.c - run a command and write its user CPU, system CPU (seconds), peak
 * RSS (KiB) and voluntary context switches (blocking waits) to a file:
 * "USER SYS MAXRSS_KB NVCSW\n". Built by bench/bench.py.
 *
 *     rusage OUTFILE COMMAND [ARG...]
 *
 * Why not wait4() from python itself: Linux keeps a process's ru_maxrss
 * across execve(), so a child forked from a 30 MB python reports >= 30 MB
 * whatever it runs. Forked from this small program the figure is the
 * command's own. Exit status: the command's, or 128 + signal.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	pid_t pid;
	int st;
	FILE *f;

	if (argc < 3) {
		fputs("usage: rusage OUTFILE COMMAND [ARG...]\n", stderr);
		return 127;
	}
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("rusage: exec");
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("rusage: wait4");
		return 127;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld.%06ld %ld.%06ld %ld %ld\n",
			  (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
			  (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
			  ru.ru_maxrss, ru.ru_nvcsw) < 0 ||
	    fclose(f) != 0) {
		perror("rusage: write");
		return 127;
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
