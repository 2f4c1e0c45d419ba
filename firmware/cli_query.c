#include "cli_query.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_readonly.h"

static void query_usage(FILE *f, const char *default_db)
{
	fprintf(f,
		"Usage: xdprobe query [--db PATH] [--max-rows N] [--timeout-ms N] \"SELECT ...\"\n"
		"Runs one read-only statement on the history database and prints CSV\n"
		"(header line first). Writes, ATTACH and extensions are refused.\n"
		"  --db PATH         database (default %s)\n"
		"  --max-rows N      stop after N rows (default %d)\n"
		"  --timeout-ms N    stop after N ms of wall time (default %d)\n"
		"Tables and views: docs/storage.md. hist_quantile(hist, q) gives percentiles.\n",
		default_db, SQLRO_DEFAULT_MAX_ROWS, SQLRO_DEFAULT_MAX_MS);
}

/* RFC 4180: quote fields holding a separator, a quote or a line break. */
static void csv_field(const char *v)
{
	if (!v)
		return; /* NULL is an empty field */
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, stdout);
		return;
	}
	putchar('"');
	for (; *v; v++) {
		if (*v == '"')
			putchar('"');
		putchar(*v);
	}
	putchar('"');
}

static int print_row(void *ctx, int ncol, const char *const *names, const char *const *values)
{
	(void)ctx;
	for (int i = 0; i < ncol; i++) {
		if (i)
			putchar(',');
		csv_field(values ? values[i] : names[i]);
	}
	putchar('\n');
	return ferror(stdout) ? 1 : 0;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && !errno && *out >= 1 && *out <= max ? 0 : -1;
}

int cli_query(int argc, char **argv, const char *default_db)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "max-rows", required_argument, NULL, 'r' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = default_db;
	unsigned long rows = SQLRO_DEFAULT_MAX_ROWS, ms = SQLRO_DEFAULT_MAX_MS;
	struct sqlro_status st = { 0 };
	struct sqlro *h;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+d:r:t:h", opts, NULL)) != -1) {
		if (opt == 'd') {
			db = optarg;
		} else if ((opt == 'r' && !parse_count(optarg, 10000000, &rows)) ||
			   (opt == 't' && !parse_count(optarg, 600000, &ms))) {
			continue;
		} else {
			if (opt == 'r' || opt == 't')
				fprintf(stderr, "xdprobe query: \"%s\" is not a positive number in "
					"range\n", optarg);
			query_usage(opt == 'h' ? stdout : stderr, default_db);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc) {
		query_usage(stderr, default_db);
		return 2;
	}
	if (sqlro_open(db, &h, &st)) {
		fprintf(stderr, "xdprobe query: %s: %s\n", db, st.msg);
		return 1;
	}
	rc = sqlro_exec(h, argv[optind], rows, (unsigned)ms, print_row, NULL, &st);
	sqlro_close(h);
	if (rc) {
		fprintf(stderr, "xdprobe query: %s\n", st.msg[0] ? st.msg : strerror(-rc));
		return 1;
	}
	if (st.truncated)
		fprintf(stderr, "xdprobe query: stopped after %zu rows (--max-rows)\n", st.rows);
	return 0;
}
