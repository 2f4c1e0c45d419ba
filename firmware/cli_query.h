/* `xdprobe query`: read-only SQL on the on-device history, printed as CSV. */
#ifndef XDPROBE_CLI_QUERY_H
#define XDPROBE_CLI_QUERY_H

/* argv[0] is "query". Returns the process exit status. */
int cli_query(int argc, char **argv, const char *default_db);

#endif
