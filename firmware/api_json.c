#include "api_json.h"

#include <stdlib.h>

void api_send_json(struct scgi_response *resp, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	resp->status = text ? status : 500;
	resp->content_type = API_JSON_TYPE;
	buf_puts(&resp->body, text ? text : "{\"error\":\"out of memory\"}");
	buf_puts(&resp->body, "\n");
	free(text);
	json_decref(body);
}

void api_send_error(struct scgi_response *resp, int status, const char *msg)
{
	api_send_json(resp, status, json_pack("{s:s}", "error", msg));
}
