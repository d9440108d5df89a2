// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintd's control requests (request.h, vmhintd(8) PROTOCOL).
 *
 * A request line comes from whoever may connect to the control socket.
 * json-c parses it (strict, UTF-8 checked, nesting bounded); then the
 * line is scanned once more, because json-c is lenient where a protocol
 * must not be: it keeps the last of two members of one name (so
 * {"cmd":"flush","cmd":"version"} would pass as a version request), and
 * it takes single-quoted strings and raw control characters in strings.
 * Then every member is checked against the command's own list: its type,
 * its range, and that it is known at all.
 *
 * The request is built in a copy and reaches the caller only when valid;
 * but its "id", which the error reply echoes, is set on every call (to ""
 * if the line has no valid one), so a reply never carries an older id.
 */
#include "config.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

#define DEPTH		3	/* json-c's count: the object and one level
				 * below it; a nested value is parsed only to
				 * be refused by its member's name */
#define MAX_MEMBERS	16
#define SAFE_INT	((1LL << 53) - 1)	/* JSON's exact integers */
#define SHOWN		48	/* bytes of a bad value quoted in errors */

static const char *const cmd_names[] = {
	[VHD_REQ_VERSION] = "version",
	[VHD_REQ_LIST] = "list",
	[VHD_REQ_STATS] = "stats",
	[VHD_REQ_SET_MODE] = "set-mode",
	[VHD_REQ_FLUSH] = "flush",
	[VHD_REQ_DEDUPE] = "dedupe",
	[VHD_REQ_KSM_STATUS] = "ksm-status",
	[VHD_REQ_NUMA_MOVE] = "numa-move",
	[VHD_REQ_NUMA_STATUS] = "numa-status",
	[VHD_REQ_NUMA_CANCEL] = "numa-cancel",
};

const char *vhd_request_cmd_name(enum vhd_req_cmd cmd)
{
	return (unsigned int)cmd < VHD_REQ_NR ? cmd_names[cmd] : "unknown";
}

/* The members each command takes, besides "cmd" and "id". */
enum member {
	M_DOMAIN = 1u << 0,
	M_MODE = 1u << 1,
	M_ENABLE = 1u << 2,
	M_LIVE = 1u << 3,
	M_CONFIG = 1u << 4,
	M_NODE = 1u << 5,
	M_MOVE_ALL = 1u << 6,
	M_RATE = 1u << 7,
};

static const struct {
	unsigned int allowed, required;
} cmd_members[VHD_REQ_NR] = {
	[VHD_REQ_VERSION] = { 0, 0 },
	[VHD_REQ_LIST] = { 0, 0 },
	[VHD_REQ_STATS] = { M_DOMAIN, M_DOMAIN },
	[VHD_REQ_SET_MODE] = { M_DOMAIN | M_MODE | M_LIVE | M_CONFIG, M_DOMAIN | M_MODE },
	[VHD_REQ_FLUSH] = { M_DOMAIN, M_DOMAIN },
	[VHD_REQ_DEDUPE] = { M_DOMAIN | M_ENABLE | M_LIVE | M_CONFIG, M_DOMAIN | M_ENABLE },
	[VHD_REQ_KSM_STATUS] = { 0, 0 },
	[VHD_REQ_NUMA_MOVE] = { M_DOMAIN | M_NODE | M_MOVE_ALL | M_RATE, M_DOMAIN | M_NODE },
	[VHD_REQ_NUMA_STATUS] = { M_DOMAIN, M_DOMAIN },
	[VHD_REQ_NUMA_CANCEL] = { M_DOMAIN, M_DOMAIN },
};

static const struct {
	const char *name;
	enum member bit;
} member_names[] = {
	{ "domain", M_DOMAIN }, { "mode", M_MODE }, { "enable", M_ENABLE },
	{ "live", M_LIVE }, { "config", M_CONFIG }, { "node", M_NODE },
	{ "move-all", M_MOVE_ALL }, { "max-bytes-per-sec", M_RATE },
};

#define N_MEMBERS	(sizeof(member_names) / sizeof(member_names[0]))

static int fail(char *err, size_t errsz, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsz, const char *f, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, f);
		vsnprintf(err, errsz, f, ap);
		va_end(ap);
	}
	return -1;
}

/* A hostile string as errors quote it: bounded, printable ASCII only. */
static const char *shown(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 4 < size && i < SHOWN; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* --- the second look at the line --- */

struct scan {
	const char *s;
	size_t len, pos;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int at_blank(const struct scan *sc)
{
	return sc->pos < sc->len && is_blank(sc->s[sc->pos]);
}

static void skip_blanks(struct scan *sc)
{
	while (at_blank(sc))
		sc->pos++;
}

/* A double-quoted string at pos (json-c checked its escapes): past it. */
static int skip_string(struct scan *sc)
{
	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return -1;	/* json-c's single quotes */
	for (sc->pos++; sc->pos < sc->len; sc->pos++) {
		unsigned char c = (unsigned char)sc->s[sc->pos];

		if (c < 0x20)
			return -1;	/* raw control character */
		if (c == '\\') {
			sc->pos++;
		} else if (c == '"') {
			sc->pos++;
			return 0;
		}
	}
	return -1;
}

/* Any value: a string, or everything up to the , or } that ends it. */
static int skip_value(struct scan *sc)
{
	int depth = 0;

	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c == '"' || c == '\'') {
			if (skip_string(sc))
				return -1;
			continue;
		}
		if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			depth--;
		if (depth < 0 || (!depth && c == ','))
			return 0;
		sc->pos++;
	}
	return -1;
}

/* A member name's decoded text (json-c decodes it): a new reference. */
static json_object *decode_name(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(1);
	json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_string)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static int printable_name(json_object *name)
{
	const char *s = json_object_get_string(name);
	int i, len = json_object_get_string_len(name);

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * The names of the object's members, in order, as json-c decodes them,
 * into @names (up to MAX_MEMBERS). 0, or -1 with @err.
 */
static int member_list(const char *line, size_t len, json_object **names,
		       int *n, char *err, size_t errsz)
{
	struct scan sc = { line, len, 0 };
	size_t start;

	*n = 0;
	skip_blanks(&sc);
	if (sc.pos >= len || line[sc.pos++] != '{')
		return fail(err, errsz, "request is not a JSON object");
	skip_blanks(&sc);
	if (sc.pos < len && line[sc.pos] == '}')
		return 0;
	for (;;) {
		skip_blanks(&sc);
		start = sc.pos;
		if (skip_string(&sc))
			return fail(err, errsz, "request is not JSON: bad string at byte %zu",
				    start + 1);
		if (*n == MAX_MEMBERS)
			return fail(err, errsz, "request has more than %d members", MAX_MEMBERS);
		names[*n] = decode_name(line + start, sc.pos - start);
		if (!names[*n])
			return fail(err, errsz, "request is not JSON: bad member name at "
				    "byte %zu", start + 1);
		(*n)++;
		/* json-c cuts a name at its first NUL: "cmd\u0000x" would
		 * be "cmd" to it, and another than "cmd" to us */
		if (!printable_name(names[*n - 1]))
			return fail(err, errsz, "member name with a control character at "
				    "byte %zu", start + 1);
		skip_blanks(&sc);
		if (sc.pos >= len || line[sc.pos++] != ':')
			return fail(err, errsz, "request is not JSON at byte %zu", sc.pos);
		skip_blanks(&sc);
		start = sc.pos;
		if (skip_value(&sc))
			return fail(err, errsz, "request is not JSON: bad value at byte %zu",
				    start + 1);
		if (line[sc.pos++] == '}')
			return 0;
	}
}

static int same_name(json_object *a, json_object *b)
{
	int la = json_object_get_string_len(a);

	return la == json_object_get_string_len(b) &&
	       !memcmp(json_object_get_string(a), json_object_get_string(b), (size_t)la);
}

/* The first name given twice, or NULL. */
static json_object *duplicate(json_object **names, int n)
{
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (same_name(names[i], names[j]))
				return names[i];
	return NULL;
}

/* --- members --- */

/* A string member without NUL or control characters, 1..@max bytes. */
static int get_text(json_object *v, const char *name, size_t max, const char **s,
		    char *err, size_t errsz)
{
	size_t len, i;

	if (!json_object_is_type(v, json_type_string))
		return fail(err, errsz, "member \"%s\" must be a string", name);
	*s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (!len || len > max)
		return fail(err, errsz, "member \"%s\" must be 1 to %zu bytes long (it has %zu)",
			    name, max, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)(*s)[i] < 0x20 || (*s)[i] == 0x7f)
			return fail(err, errsz, "member \"%s\" has a control character at "
				    "byte %zu", name, i + 1);
	return 0;
}

static int get_bool(json_object *v, const char *name, bool *b, char *err, size_t errsz)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errsz, "member \"%s\" must be true or false", name);
	*b = json_object_get_boolean(v);
	return 0;
}

/*
 * An integer in [@min, @max]. json-c saturates what it cannot hold (to
 * INT64_MIN, INT64_MAX, UINT64_MAX): every range here is within JSON's
 * exact integers, far from those, so a saturated value is out of range.
 */
static int get_int(json_object *v, const char *name, int64_t min, int64_t max,
		   int64_t *out, char *err, size_t errsz)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int))
		return fail(err, errsz, "member \"%s\" must be an integer", name);
	i = json_object_get_int64(v);
	if (i < min || i > max)
		return fail(err, errsz, "member \"%s\" must be an integer from %lld to %lld",
			    name, (long long)min, (long long)max);
	*out = i;
	return 0;
}

/* "id": a string or an integer, kept as the JSON text the reply echoes. */
static int get_id(json_object *v, char *id, char *err, size_t errsz)
{
	const char *text;
	int64_t i;

	if (json_object_is_type(v, json_type_int)) {
		if (get_int(v, "id", -SAFE_INT, SAFE_INT, &i, err, errsz))
			return -1;
	} else if (!json_object_is_type(v, json_type_string)) {
		return fail(err, errsz, "member \"id\" must be a string or an integer");
	}
	text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return fail(err, errsz, "out of memory");
	if (strlen(text) >= VHD_REQ_ID_MAX)
		return fail(err, errsz, "member \"id\" is too long (at most %d bytes as JSON)",
			    VHD_REQ_ID_MAX - 1);
	memcpy(id, text, strlen(text) + 1);
	return 0;
}

static int get_cmd(json_object *obj, enum vhd_req_cmd *cmd, char *err, size_t errsz)
{
	char b[SHOWN + 8];
	json_object *v;
	const char *s;
	size_t len;
	unsigned int i;

	if (!json_object_object_get_ex(obj, "cmd", &v))
		return fail(err, errsz, "missing member \"cmd\"");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errsz, "member \"cmd\" must be a string");
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	for (i = 0; i < VHD_REQ_NR; i++)
		if (len == strlen(cmd_names[i]) && !memcmp(s, cmd_names[i], len)) {
			*cmd = (enum vhd_req_cmd)i;
			return 0;
		}
	return fail(err, errsz, "unknown command \"%s\"", shown(s, len, b, sizeof(b)));
}

static int set_member(struct vhd_request *r, enum member m, json_object *v,
		      bool *live, bool *config, char *err, size_t errsz)
{
	const char *s = NULL;
	int64_t i;

	switch (m) {
	case M_DOMAIN:
		if (get_text(v, "domain", VHD_REQ_DOMAIN_MAX - 1, &s, err, errsz))
			return -1;
		memcpy(r->domain, s, strlen(s) + 1);
		return 0;
	case M_MODE:
		if (!json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)) ||
		    vhp_mode_from_name(json_object_get_string(v), &r->mode))
			return fail(err, errsz, "member \"mode\" must be \"sync\" or \"lazy\"");
		return 0;
	case M_ENABLE:
		return get_bool(v, "enable", &r->enable, err, errsz);
	case M_LIVE:
		return get_bool(v, "live", live, err, errsz);
	case M_CONFIG:
		return get_bool(v, "config", config, err, errsz);
	case M_NODE:
		if (get_int(v, "node", 0, 1023, &i, err, errsz))
			return -1;
		r->node = (uint32_t)i;
		return 0;
	case M_MOVE_ALL:
		return get_bool(v, "move-all", &r->move_all, err, errsz);
	case M_RATE:
		if (get_int(v, "max-bytes-per-sec", 0, SAFE_INT, &i, err, errsz))
			return -1;
		r->max_bytes_per_sec = (uint64_t)i;
		return 0;
	}
	return fail(err, errsz, "internal error: member %u", (unsigned int)m);
}

static int member_bit(const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < N_MEMBERS; i++)
		if (len == strlen(member_names[i].name) && !memcmp(name, member_names[i].name, len))
			return (int)member_names[i].bit;
	return 0;
}

static int check_members(json_object *obj, struct vhd_request *r, char *err,
			 size_t errsz)
{
	unsigned int allowed = cmd_members[r->cmd].allowed, seen = 0, i;
	bool live = false, config = false;
	const char *cmd = cmd_names[r->cmd];
	char b[SHOWN + 8];
	int bit;

	json_object_object_foreach(obj, key, val) {
		size_t len = strlen(key);

		if (!strcmp(key, "cmd") || !strcmp(key, "id"))
			continue;
		bit = member_bit(key, len);
		if (!bit || !(bit & allowed))
			return fail(err, errsz, "unknown member \"%s\" for \"%s\"",
				    shown(key, len, b, sizeof(b)), cmd);
		if (set_member(r, (enum member)bit, val, &live, &config, err, errsz))
			return -1;
		seen |= (unsigned int)bit;
	}
	for (i = 0; i < N_MEMBERS; i++)
		if (cmd_members[r->cmd].required & ~seen & member_names[i].bit)
			return fail(err, errsz, "missing member \"%s\" (\"%s\" needs it)",
				    member_names[i].name, cmd);
	r->affect = (live ? VHD_AFFECT_LIVE : 0) | (config ? VHD_AFFECT_CONFIG : 0);
	if (!r->affect && (seen & (M_LIVE | M_CONFIG)))
		return fail(err, errsz, "\"live\" and \"config\" are both false: the change "
			    "would affect nothing");
	return 0;
}

/* The parsed object; NULL with @err. */
static json_object *parse_json(const char *line, size_t len, char *err, size_t errsz)
{
	json_tokener *tok = json_tokener_new_ex(DEPTH);
	char buf[VHD_REQ_MAX_LINE + 1];
	enum json_tokener_error e;
	json_object *obj;
	size_t end;

	if (!tok)
		return fail(err, errsz, "out of memory"), NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
				    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	/* With its terminating NUL, so that a number at the end is complete
	 * (the caller checked that len < VHD_REQ_MAX_LINE). */
	memcpy(buf, line, len);
	buf[len] = '\0';
	obj = json_tokener_parse_ex(tok, buf, (int)len + 1);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		json_object_put(obj);
		if (e == json_tokener_error_depth)
			return fail(err, errsz, "request is not JSON: nested too deeply"), NULL;
		return fail(err, errsz, "request is not JSON: %s", json_tokener_error_desc(e)),
		       NULL;
	}
	while (end < len && is_blank(line[end]))
		end++;
	if (end < len) {
		json_object_put(obj);
		return fail(err, errsz, "trailing data after the request at byte %zu",
			    end + 1), NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {	/* null is NULL */
		json_object_put(obj);
		return fail(err, errsz, "request is not a JSON object"), NULL;
	}
	return obj;
}

int vhd_request_parse(const char *line, size_t len, struct vhd_request *r,
		      char *err, size_t errsz)
{
	json_object *names[MAX_MEMBERS], *obj, *v, *dup;
	char id[VHD_REQ_ID_MAX] = "", b[SHOWN + 8];
	struct vhd_request req;
	int n = 0, ret = -1, i;

	/* The id is this line's, whatever happens: never an older one's. */
	r->id[0] = '\0';
	if (!line)
		return fail(err, errsz, "no request");
	if (len >= VHD_REQ_MAX_LINE)
		return fail(err, errsz, "request line longer than %d bytes", VHD_REQ_MAX_LINE);
	if (memchr(line, '\0', len))
		return fail(err, errsz, "NUL byte in the request line");
	if (len == strspn(line, " \t\r\n"))
		return fail(err, errsz, "empty request");
	obj = parse_json(line, len, err, errsz);
	if (!obj)
		return -1;
	if (member_list(line, len, names, &n, err, errsz))
		goto out;
	dup = duplicate(names, n);
	if ((!dup || strcmp(json_object_get_string(dup), "id")) &&
	    json_object_object_get_ex(obj, "id", &v)) {
		if (get_id(v, id, err, errsz))
			goto out;
		memcpy(r->id, id, sizeof(id));
	}
	if (dup) {
		fail(err, errsz, "member \"%s\" given twice",
		     shown(json_object_get_string(dup), (size_t)json_object_get_string_len(dup),
			   b, sizeof(b)));
		goto out;
	}
	memset(&req, 0, sizeof(req));
	memcpy(req.id, id, sizeof(id));
	if (get_cmd(obj, &req.cmd, err, errsz) || check_members(obj, &req, err, errsz))
		goto out;
	*r = req;
	ret = 0;
out:
	for (i = 0; i < n; i++)
		json_object_put(names[i]);
	json_object_put(obj);
	return ret;
}
