/* tests/fuzz/fuzz_common.c - the exact host allocator and the sending checks (see fuzz.h). */
#include "fuzz.h"

#include "core/arena.h"
#include "clearing/clear.h"
#include "pipeline/job.h"
#include "pipeline/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* ---- the exact allocator ------------------------------------------------------------------- */

static void *heap_alloc(void *arena, size_t size, size_t align)
{
	fuzz_heap_t *h = arena;
	void *p = NULL;

	FUZZ_CHECK(align && (align & (align - 1)) == 0 && align <= 64);
	if (size > h->limit - h->used)
		return NULL; /* the sending's memory bound, as the arena's limit */
	if (h->nblocks == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		void **b = realloc(h->blocks, cap * sizeof(*b));

		if (!b)
			return NULL;
		h->blocks = b;
		h->cap = cap;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	/* size 0 still gets its own block: a write through it is then an ASan report */
	if (posix_memalign(&p, align, size ? size : 1) != 0)
		return NULL;
	memset(p, 0, size);
	h->blocks[h->nblocks++] = p;
	h->used += size;
	return p;
}

void fuzz_host_init(tpc_host_t *host, fuzz_heap_t *heap, size_t limit)
{
	memset(heap, 0, sizeof(*heap));
	heap->limit = limit;
	host->alloc = heap_alloc;
	host->arena = heap;
	host->max_invoices = 100000;
	host->max_lines = 1000000;
	host->alloc_uninit = NULL; /* the zeroing alloc: a fuzzer's input never reads garbage */
}

void fuzz_heap_release(fuzz_heap_t *heap)
{
	for (size_t i = 0; i < heap->nblocks; i++)
		free(heap->blocks[i]);
	free(heap->blocks);
	heap->blocks = NULL;
	heap->nblocks = heap->cap = heap->used = 0;
}

/* ---- checks -------------------------------------------------------------------------------- */

static volatile uint8_t sink; /* keeps the reads of every view */

static void check_view(tpc_view_t v, const uint8_t *buf, size_t len)
{
	uint8_t x = 0;

	if (v.len == 0)
		return;
	FUZZ_CHECK(v.ptr != NULL);
	if (buf) {
		const char *b = (const char *)buf;

		FUZZ_CHECK(v.ptr >= b && v.ptr <= b + len);
		FUZZ_CHECK(v.len <= (size_t)(b + len - v.ptr));
	}
	for (uint32_t i = 0; i < v.len; i++)
		x ^= (uint8_t)v.ptr[i];
	sink ^= x;
}

static void check_findings(const tpc_finding_t *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		FUZZ_CHECK(memchr(f[i].code, 0, sizeof(f[i].code)) == f[i].code + 6);
		FUZZ_CHECK(f[i].letter && strchr("BFRES", f[i].letter));
	}
}

void fuzz_check_sending(const tpc_sending_t *s, const uint8_t *buf, size_t len)
{
	check_view(s->reference, buf, len);
	check_view(s->third_party, buf, len);
	FUZZ_CHECK(s->nfindings <= s->findings_cap);
	FUZZ_CHECK(s->nfindings == 0 || s->findings);
	check_findings(s->findings, s->nfindings);
	FUZZ_CHECK(s->ninvoices == 0 || s->invoices);
	FUZZ_CHECK(s->nlines == 0 || s->lines);
	FUZZ_CHECK(s->payee == TPC_PAYEE_THIRD_PARTY || s->payee == TPC_PAYEE_PATIENT);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		/* invoices own consecutive, disjoint runs of lines, in order */
		FUZZ_CHECK(inv->first_line <= s->nlines);
		FUZZ_CHECK(inv->nlines <= s->nlines - inv->first_line);
		if (i > 0)
			FUZZ_CHECK(inv->first_line >=
			           s->invoices[i - 1].first_line + s->invoices[i - 1].nlines);
		FUZZ_CHECK(inv->nfindings <= TPC_MAX_FINDINGS);
		check_findings(inv->findings, inv->nfindings);
		FUZZ_CHECK(inv->outcome <= TPC_OUTCOME_REFUSED);
		check_view(inv->patient, buf, len);
		check_view(inv->provider, buf, len);
		check_view(inv->number, buf, len);
		check_view(inv->previous, buf, len);
	}
	for (uint32_t i = 0; i < s->nlines; i++) {
		const tpc_line_t *ln = &s->lines[i];

		FUZZ_CHECK(ln->nfindings <= TPC_MAX_FINDINGS);
		check_findings(ln->findings, ln->nfindings);
		FUZZ_CHECK(ln->outcome <= TPC_OUTCOME_REFUSED);
		FUZZ_CHECK(memchr(ln->code, 0, sizeof(ln->code)) != NULL);
		FUZZ_CHECK(memchr(ln->country, 0, sizeof(ln->country)) != NULL);
		check_view(ln->performer, buf, len);
		check_view(ln->reference, buf, len);
		check_view(ln->commitment, buf, len);
	}
}

void fuzz_check_judged(const tpc_sending_t *s)
{
	FUZZ_CHECK(s->outcome == TPC_OUTCOME_ACCEPTED || s->outcome == TPC_OUTCOME_REFUSED);
	for (uint32_t i = 0; i < s->ninvoices; i++) {
		const tpc_invoice_t *inv = &s->invoices[i];

		FUZZ_CHECK(inv->outcome == TPC_OUTCOME_ACCEPTED ||
		           inv->outcome == TPC_OUTCOME_REFUSED);
		for (uint32_t k = 0; k < inv->nlines; k++) {
			const tpc_line_t *ln = &s->lines[inv->first_line + k];

			FUZZ_CHECK(ln->outcome == TPC_OUTCOME_ACCEPTED ||
			           ln->outcome == TPC_OUTCOME_REFUSED);
			if (ln->outcome == TPC_OUTCOME_REFUSED)
				FUZZ_CHECK(ln->accepted_cents == 0);
		}
	}
	if (s->blocked)
		FUZZ_CHECK(s->outcome == TPC_OUTCOME_REFUSED && s->accepted_cents == 0);
}

int fuzz_judge_and_answer(const tpc_adapter_t *a, const uint8_t *buf, size_t len, tpc_sending_t *s,
                          const tpc_host_t *host, tpc_blob_t *answer)
{
	tpc_clear_summary_t sum;
	tpc_job_t *job;
	int rc;

	memset(answer, 0, sizeof(*answer));
	tpc_clear_judge(s, &sum);
	fuzz_check_judged(s);
	FUZZ_CHECK(sum.lines_accepted + sum.lines_refused <= s->nlines);
	/* the engine's default threshold (config.c: max_refused_percent = 5) */
	rc = tpc_clear_threshold(s, 5, host, &sum);
	if (rc < 0)
		return TPC_ADAPTER_ENOMEM;
	fuzz_check_judged(s);
	rc = a->encode_answer(NULL, buf, len, s, TPC_ANSWER_RESULT, host, answer);
	if (rc == TPC_ADAPTER_ENOTSUP) {
		memset(answer, 0, sizeof(*answer));
	} else if (rc) {
		FUZZ_CHECK(rc == TPC_ADAPTER_ENOMEM);
		return rc;
	} else {
		FUZZ_CHECK(answer->ptr && answer->len);
		FUZZ_CHECK(memchr(answer->type, 0, sizeof(answer->type)) != NULL);
	}
	/* the Result the engine stores and sends, packed into the job's arena */
	job = calloc(1, sizeof(*job));
	FUZZ_CHECK(job != NULL);
	FUZZ_CHECK(tpc_arena_new(4096, 0, &job->arena) == 0);
	snprintf(job->sender, sizeof(job->sender), "fuzz");
	snprintf(job->key, sizeof(job->key), "fuzz-key");
	job->sending = *s;
	job->native = *answer;
	rc = tpc_result_pack(job, a, NULL);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(job->result && (job->result_len || s->ninvoices == 0));
	tpc_arena_free(&job->arena);
	free(job);
	return 0;
}
