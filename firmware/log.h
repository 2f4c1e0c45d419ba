/* Leveled logging to stderr. The macros test the level before evaluating
 * their arguments, so disabled debug logging costs one comparison. */
#ifndef XDPROBE_LOG_H
#define XDPROBE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *name);
/* Routes libbpf's own messages through log_write. */
void log_hook_libbpf(void);

#define LOG_AT(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) <= log_threshold)                                                        \
			log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                        \
	} while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
