/* Unit tests of firmware/url_query.c: query-string parameters of API calls. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "url_query.h"

static void expect(const char *query, const char *name, int rc, const char *value)
{
	char out[32];

	assert_int_equal(url_query_param(query, name, out, sizeof(out)), rc);
	if (rc == 0)
		assert_string_equal(out, value);
}

static void test_finds_and_decodes(void **state)
{
	(void)state;
	expect("sql=SELECT%201&max_rows=5", "sql", 0, "SELECT 1");
	expect("sql=SELECT%201&max_rows=5", "max_rows", 0, "5");
	expect("a=1&sql=x+y", "sql", 0, "x y");
	expect("sql=%2C%3d%e2%82%ac", "sql", 0, ",=\xe2\x82\xac");
	expect("sql=", "sql", 0, "");
}

static void test_names_match_whole(void **state)
{
	(void)state;
	expect("sqlx=1&sql=2", "sql", 0, "2");
	expect("xsql=1", "sql", -ENOENT, NULL);
	expect("sql", "sql", -ENOENT, NULL);
	expect("", "sql", -ENOENT, NULL);
	expect("&&sql=3&", "sql", 0, "3");
}

static void test_rejects_bad_escapes(void **state)
{
	(void)state;
	expect("sql=%zz", "sql", -EINVAL, NULL);
	expect("sql=%4", "sql", -EINVAL, NULL);
	expect("sql=%", "sql", -EINVAL, NULL);
	expect("sql=a%00b", "sql", -EINVAL, NULL); /* an encoded NUL would cut the SQL */
}

static void test_size_bound(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(url_query_param("sql=abc", "sql", out, sizeof(out)), 0);
	assert_int_equal(url_query_param("sql=abcd", "sql", out, sizeof(out)), -E2BIG);
	assert_int_equal(url_query_param("sql=%41%41%41%41", "sql", out, sizeof(out)), -E2BIG);
	assert_int_equal(url_query_param("sql=a", "sql", out, 0), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_and_decodes),
		cmocka_unit_test(test_names_match_whole),
		cmocka_unit_test(test_rejects_bad_escapes),
		cmocka_unit_test(test_size_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
