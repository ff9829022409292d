/* engine/core/config.c - defaults and INI loading (see config.h).
 *
 * One table lists every key with its parser; the defaults live in tpc_config_defaults(). inih
 * calls the handler once per key; the first bad key is remembered with its line so the message
 * names file, line and key, then startup stops.
 */
#include "core/config.h"

#include "common/check.h"
#include "core/error.h"
#include "security/security.h"
#include "payments/sepa.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tpc_config_defaults(tpc_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 0;
	cfg->queue_depth = 256;
	cfg->max_sending_bytes = 64u << 20;
	cfg->max_invoices = 100000;
	cfg->max_lines = 1000000;
	cfg->retry_after_ms = 200;
	cfg->max_load_bytes = 64u << 20;
	cfg->max_in_flight_per_sender = 128;
	snprintf(cfg->endpoint, sizeof(cfg->endpoint), "tcp://127.0.0.1:5570");
	cfg->sndhwm = 10000;
	cfg->rcvhwm = 10000;
	snprintf(cfg->http_listen, sizeof(cfg->http_listen), "127.0.0.1:9570");
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "tpclear-data");
	cfg->map_size = 64u << 20;
	cfg->map_max = (size_t)64 << 30;
	cfg->group_max = 256;
	cfg->sync = TPC_SYNC_FULL;
	cfg->max_refused_percent = 5;
	cfg->execution_days = 1;
	/* sample payer accounts (valid check digits, not real accounts): replace in production */
	static const char *const ibans[TPC_BUDGET__COUNT] = {"",
	                                                     "BE10679000010104",
	                                                     "BE63679000020208",
	                                                     "BE19679000030312",
	                                                     "BE72679000040416",
	                                                     "BE28679000050520",
	                                                     "BE81679000060624"};
	static const char *const names[TPC_BUDGET__COUNT] = {"",
	                                                     "CAAMI-HZIV AMI",
	                                                     "CAAMI-HZIV for SPP IS",
	                                                     "CAAMI-HZIV for Fedasil",
	                                                     "CAAMI-HZIV for SPF Justice",
	                                                     "CAAMI-HZIV war victims",
	                                                     "CAAMI-HZIV OSSOM"};
	for (int b = 1; b < TPC_BUDGET__COUNT; b++) {
		snprintf(cfg->payer[b].name, sizeof(cfg->payer[b].name), "%s", names[b]);
		snprintf(cfg->payer[b].iban, sizeof(cfg->payer[b].iban), "%s", ibans[b]);
		snprintf(cfg->payer[b].bic, sizeof(cfg->payer[b].bic), "PCHQBEBB");
	}
}

int tpc_config_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return TPC_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return TPC_EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return TPC_EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'B' || *end == 'b'))
		end++;
	if (*end)
		return TPC_EINVAL;
	if (shift && v > (ULLONG_MAX >> shift))
		return TPC_EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return TPC_EINVAL;
	*out = (int)v;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	int v;

	if (parse_int(s, 1, INT_MAX, &v))
		return TPC_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_str(const char *s, char *dst, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap)
		return TPC_EINVAL;
	memcpy(dst, s, n + 1);
	return 0;
}

static int set_key(tpc_config_t *c, const char *section, const char *key, const char *v,
                   const char **why)
{
	size_t sz;

	*why = "unknown key";
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(key, k) == 0)
	if (IS("engine", "workers")) {
		*why = "expected an integer 0..256 (0 = online CPUs)";
		return parse_int(v, 0, 256, &c->workers);
	}
	if (IS("engine", "queue_depth")) {
		*why = "expected an integer 1..1000000";
		return parse_int(v, 1, 1000000, &c->queue_depth);
	}
	if (IS("engine", "max_sending_bytes")) {
		*why = "expected a size (e.g. 64M) between 1K and 4G";
		if (tpc_config_parse_size(v, &sz) || sz < 1024 || sz > ((size_t)4 << 30))
			return TPC_EINVAL;
		c->max_sending_bytes = sz;
		return 0;
	}
	if (IS("engine", "max_invoices")) {
		*why = "expected a positive integer";
		return parse_u32(v, &c->max_invoices);
	}
	if (IS("engine", "max_lines")) {
		*why = "expected a positive integer";
		return parse_u32(v, &c->max_lines);
	}
	if (IS("engine", "retry_after_ms")) {
		*why = "expected an integer 1..600000";
		return parse_int(v, 1, 600000, &c->retry_after_ms);
	}
	if (IS("engine", "max_load_bytes")) {
		*why = "expected a size (e.g. 64M) between 1K and 4G";
		if (tpc_config_parse_size(v, &sz) || sz < 1024 || sz > ((size_t)4 << 30))
			return TPC_EINVAL;
		c->max_load_bytes = sz;
		return 0;
	}
	if (IS("engine", "max_in_flight_per_sender")) {
		int n;

		*why = "expected an integer 0..1000000 (0 = no bound)";
		if (parse_int(v, 0, 1000000, &n))
			return TPC_EINVAL;
		c->max_in_flight_per_sender = (uint32_t)n;
		return 0;
	}
	if (IS("security", "mode")) {
		*why = "expected curve, plain or auto";
		if (strcmp(v, "curve") == 0)
			c->security_mode = TPC_SECURITY_CURVE;
		else if (strcmp(v, "plain") == 0)
			c->security_mode = TPC_SECURITY_PLAIN;
		else if (strcmp(v, "auto") == 0)
			c->security_mode = TPC_SECURITY_AUTO;
		else
			return TPC_EINVAL;
		return 0;
	}
	if (IS("security", "server_key")) {
		*why = "path too long";
		return parse_str(v, c->server_key, sizeof(c->server_key));
	}
	if (IS("security", "senders")) {
		*why = "path too long";
		return parse_str(v, c->senders_path, sizeof(c->senders_path));
	}
	if (IS("intake", "endpoint")) {
		*why = "expected a ZeroMQ endpoint such as tcp://127.0.0.1:5570";
		if (!strstr(v, "://"))
			return TPC_EINVAL;
		return parse_str(v, c->endpoint, sizeof(c->endpoint));
	}
	if (IS("intake", "sndhwm")) {
		*why = "expected an integer 1..10000000";
		return parse_int(v, 1, 10000000, &c->sndhwm);
	}
	if (IS("intake", "rcvhwm")) {
		*why = "expected an integer 1..10000000";
		return parse_int(v, 1, 10000000, &c->rcvhwm);
	}
	if (IS("http", "listen")) {
		*why = "expected host:port or off";
		if (strcmp(v, "off") != 0 && !strrchr(v, ':'))
			return TPC_EINVAL;
		return parse_str(v, c->http_listen, sizeof(c->http_listen));
	}
	if (IS("ledger", "data_dir")) {
		*why = "expected a non-empty path";
		if (!*v)
			return TPC_EINVAL;
		return parse_str(v, c->data_dir, sizeof(c->data_dir));
	}
	if (IS("ledger", "map_size")) {
		*why = "expected a size (e.g. 64M) of at least 1M";
		if (tpc_config_parse_size(v, &sz) || sz < (1u << 20))
			return TPC_EINVAL;
		c->map_size = sz;
		return 0;
	}
	if (IS("ledger", "map_max")) {
		*why = "expected a size (e.g. 64G) of at least 1M";
		if (tpc_config_parse_size(v, &sz) || sz < (1u << 20))
			return TPC_EINVAL;
		c->map_max = sz;
		return 0;
	}
	if (IS("ledger", "group_max")) {
		*why = "expected an integer 1..100000";
		return parse_int(v, 1, 100000, &c->group_max);
	}
	if (IS("ledger", "sync")) {
		*why = "expected full, nometasync or none";
		if (strcmp(v, "full") == 0)
			c->sync = TPC_SYNC_FULL;
		else if (strcmp(v, "nometasync") == 0)
			c->sync = TPC_SYNC_NOMETASYNC;
		else if (strcmp(v, "none") == 0)
			c->sync = TPC_SYNC_NONE;
		else
			return TPC_EINVAL;
		return 0;
	}
	if (IS("clearing", "as_of")) {
		int32_t d;
		unsigned y, m, dd;
		char tail;

		*why = "expected YYYY-MM-DD, or empty for the system date";
		if (!*v) {
			c->as_of_day = 0;
			return 0;
		}
		if (sscanf(v, "%4u-%2u-%2u%c", &y, &m, &dd, &tail) != 3 ||
		    tpc_check_date_yyyymmdd(y * 10000u + m * 100u + dd, &d) != 0 || d <= 0)
			return TPC_EINVAL;
		c->as_of_day = d;
		return 0;
	}
	if (IS("clearing", "max_refused_percent")) {
		*why = "expected an integer 0..100";
		return parse_int(v, 0, 100, &c->max_refused_percent);
	}
	if (IS("adapters", "dir")) {
		*why = "path too long";
		return parse_str(v, c->adapter_dir, sizeof(c->adapter_dir));
	}
	if (IS("payments", "dir")) {
		*why = "path too long";
		return parse_str(v, c->payments_dir, sizeof(c->payments_dir));
	}
	if (IS("payments", "execution_days")) {
		*why = "expected an integer 0..30";
		return parse_int(v, 0, 30, &c->execution_days);
	}
#undef IS
	if (strncmp(section, "budget.", 7) == 0) {
		enum tpc_budget b;
		tpc_payer_t *p;

		*why = "unknown budget (AMI, SPPIS, FEDASIL, JUSTICE, WARVICTIMS, OSSOM)";
		if (tpc_budget_by_name(section + 7, &b))
			return TPC_EINVAL;
		p = &c->payer[b];
		if (strcmp(key, "name") == 0) {
			*why = "expected 1..70 characters";
			return *v ? parse_str(v, p->name, sizeof(p->name)) : TPC_EINVAL;
		}
		if (strcmp(key, "iban") == 0) {
			*why = "expected an IBAN with valid check digits, no spaces";
			if (!tpc_check_iban(v, strlen(v)) || strlen(v) >= sizeof(p->iban))
				return TPC_EINVAL;
			return parse_str(v, p->iban, sizeof(p->iban));
		}
		if (strcmp(key, "bic") == 0) {
			*why = "expected a BIC of 8 or 11 characters, or empty";
			if (*v && !tpc_sepa_bic_ok(v))
				return TPC_EINVAL;
			return parse_str(v, p->bic, sizeof(p->bic));
		}
		*why = "unknown key (name, iban, bic)";
		return TPC_EINVAL;
	}
	if (strncmp(section, "adapter.", 8) == 0) {
		const char *name = section + 8;
		int i;

		*why = "too many adapter sections, or section text too long";
		for (i = 0; i < c->nadapter_sections; i++)
			if (strcmp(c->adapter_sections[i].name, name) == 0)
				break;
		if (i == c->nadapter_sections) {
			if (i == TPC_MAX_ADAPTER_SECTIONS || strlen(name) >= 32 || !*name)
				return TPC_EINVAL;
			snprintf(c->adapter_sections[i].name, 32, "%s", name);
			c->nadapter_sections++;
		}
		char *t = c->adapter_sections[i].text;
		size_t used = strlen(t), add = strlen(key) + strlen(v) + 2;
		if (used + add >= sizeof(c->adapter_sections[i].text))
			return TPC_EINVAL;
		snprintf(t + used, sizeof(c->adapter_sections[i].text) - used, "%s=%s\n", key, v);
		return 0;
	}
	return TPC_EINVAL;
}

struct load_ctx {
	tpc_config_t *cfg;
	const char *name;
	char *err;
	size_t errlen;
	int line; /* counts handler calls to find the line for messages */
	int failed;
};

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *x = user;
	const char *why = "";

	if (x->failed)
		return 1; /* keep the first error only */
	if (set_key(x->cfg, section, key, value, &why) != 0) {
		x->failed = 1;
		snprintf(x->err, x->errlen, "[%s] %s = '%s': %s", section, key, value, why);
		return 0;
	}
	return 1;
}

static int finish(struct load_ctx *x, int rc)
{
	char detail[512];

	if (rc == 0 && !x->failed)
		return 0;
	if (rc < 0) {
		snprintf(x->err, x->errlen, "%s: cannot read the file", x->name);
		return TPC_ENOENT;
	}
	snprintf(detail, sizeof(detail), "%s", x->failed ? x->err : "syntax error");
	snprintf(x->err, x->errlen, "%s:%d: %s", x->name, rc, detail);
	return TPC_ECONFIG;
}

int tpc_config_load(tpc_config_t *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx x = {cfg, path, err, errlen, 0, 0};

	return finish(&x, ini_parse(path, handler, &x));
}

int tpc_config_load_string(tpc_config_t *cfg, const char *name, const char *text, char *err,
                           size_t errlen)
{
	struct load_ctx x = {cfg, name, err, errlen, 0, 0};

	return finish(&x, ini_parse_string(text, handler, &x));
}

int tpc_config_check(const tpc_config_t *cfg, char *err, size_t errlen)
{
	if (cfg->map_size > cfg->map_max) {
		snprintf(err, errlen, "[ledger] map_size is larger than map_max");
		return TPC_ECONFIG;
	}
	return tpc_security_check_config(cfg, err, errlen);
}

const char *tpc_config_adapter_text(const tpc_config_t *cfg, const char *name)
{
	for (int i = 0; i < cfg->nadapter_sections; i++)
		if (strcmp(cfg->adapter_sections[i].name, name) == 0)
			return cfg->adapter_sections[i].text;
	return "";
}
