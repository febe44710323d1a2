/* checker._native: the linearizability search of checker/linearizability.py
 * (`search_steps`) in C, for the sub-histories it covers.
 *
 * Why: a calm 2,000-op kv history spends most of a `paxlab check` in the search's
 * interpreted loop (candidates, the dead-end test); this is the same search, step for step
 * (same candidate order, same greedy steps, same dead-end test, same memo, same
 * abstraction of unread states, the same yields every CHECK_EVERY configurations), so it
 * explores the same configurations and returns the same verdict and witness. The
 * pure-Python search stays the reference: PAXLAB_PURE=1 selects it, and it takes every
 * sub-history this one does not cover (`eligible` in checker/native.py says which).
 *
 * Covered: every op determinate (no `info`), models register / kv. Two value modes:
 *   ids: no append; values are opaque ids the caller interned (equal iff equal in Python);
 *   str: appends of strings; every value is a str or null, states are strings built here,
 *        and a string no op can read becomes UNREAD (Register.abstraction).
 * The window of linearized ops above the lowest unplaced one is kept in MAXW words; a
 * search whose window grows past that answers "wide" and the caller falls back.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXW 8
#define CHECK_EVERY 4096

enum { F_READ = 0, F_WRITE = 1, F_CAS_OK = 2, F_CAS_MISMATCH = 3, F_APPEND = 4 };
#define NOCHECK (-2)
#define ANYTHING (-3)
#define NOTHING (-4)
#define ILLEGAL (-1)
#define V_NONE 0   /* str mode: null */
#define V_UNREAD 1 /* str mode: the unread abstract state */

typedef struct { uint64_t w[MAXW]; } lw_t;

typedef struct {
    int32_t i, sid, greedy, coff, clen, k, R, low;
    lw_t lw;
} frame_t;

typedef struct { int32_t low, r; lw_t lw; uint8_t used; } mkey_t;

typedef struct {
    /* values: in str mode bytes (NULL: none/unread), in ids mode opaque */
    char **vb; Py_ssize_t *vl; uint64_t *vh; int32_t nv, capv;
    int32_t *vtab; int32_t vtcap; /* open addressing: bytes -> id (str mode) */
    int strmode;
    /* sorted distinct read strings (str mode): ids */
    int32_t *rd; int32_t nrd;
    /* ops */
    int32_t m, *fc, *A, *B, *O, *needs, *prod; uint8_t *pure, *linflag;
    int32_t *nxt, *prv, *crank, *rrank, head;
    /* producers: per value id a range into pv_cr/pv_id; any_*; all_* */
    int32_t *pv_start, *pv_len, pv_nv, *pv_cr, *pv_id;
    int32_t *any_cr, *any_id, nany, *all_cr, *all_id, nall;
    /* step cache rows per state id, lazily */
    int32_t **rows; int32_t nrows;
    /* memo */
    mkey_t *memo; int64_t mcap, mcount;
    /* search state */
    frame_t *stack; int32_t depth, scap;
    int32_t *arena; int64_t acap;
    int32_t coff, clen, k, R, culprit, low, sid, remaining;
    lw_t lw;
    int64_t it, best_len;
    int32_t *best_i, *best_sid, best_depth, best_last, best_fail, has_best;
    int started, done, paused;
    int32_t start;
} S;

static uint64_t hbytes(const char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}

static int grow_values(S *s) {
    if (s->nv < s->capv) return 0;
    int32_t c = s->capv ? s->capv * 2 : 64;
    char **vb = realloc(s->vb, c * sizeof *vb);
    if (!vb) return -1;
    s->vb = vb;
    Py_ssize_t *vl = realloc(s->vl, c * sizeof *vl);
    if (!vl) return -1;
    s->vl = vl;
    uint64_t *vh = realloc(s->vh, c * sizeof *vh);
    if (!vh) return -1;
    s->vh = vh;
    s->capv = c;
    return 0;
}

static int vtab_insert(S *s, int32_t id) {
    if ((int64_t)(s->nv + 1) * 2 > s->vtcap) {
        int32_t nc = s->vtcap ? s->vtcap * 2 : 256;
        int32_t *t = malloc(nc * sizeof *t);
        if (!t) return -1;
        for (int32_t j = 0; j < nc; j++) t[j] = -1;
        for (int32_t j = 0; j < s->vtcap; j++) {
            int32_t v = s->vtab[j];
            if (v < 0) continue;
            uint64_t p = s->vh[v] & (nc - 1);
            while (t[p] >= 0) p = (p + 1) & (nc - 1);
            t[p] = v;
        }
        free(s->vtab);
        s->vtab = t;
        s->vtcap = nc;
    }
    uint64_t p = s->vh[id] & (s->vtcap - 1);
    while (s->vtab[p] >= 0) p = (p + 1) & (s->vtcap - 1);
    s->vtab[p] = id;
    return 0;
}

/* The id of a string (owned copy made when new); -2 on memory error. */
static int32_t intern(S *s, const char *b, Py_ssize_t n, int copy) {
    uint64_t h = hbytes(b, n);
    if (s->vtcap) {
        uint64_t p = h & (s->vtcap - 1);
        int32_t v;
        while ((v = s->vtab[p]) >= 0) {
            if (s->vh[v] == h && s->vl[v] == n && memcmp(s->vb[v], b, n) == 0) return v;
            p = (p + 1) & (s->vtcap - 1);
        }
    }
    if (grow_values(s) < 0) return -2;
    char *c = (char *)b;
    if (copy) {
        c = malloc(n ? n : 1);
        if (!c) return -2;
        memcpy(c, b, n);
    }
    int32_t id = s->nv++;
    s->vb[id] = c; s->vl[id] = n; s->vh[id] = h;
    if (vtab_insert(s, id) < 0) return -2;
    return id;
}

static int cmpbytes(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb) {
    Py_ssize_t n = na < nb ? na : nb;
    int c = memcmp(a, b, n);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

/* Register.abstraction's read_somewhere: is v a prefix of some value a read or cas sees? */
static int read_somewhere(S *s, int32_t v) {
    const char *b = s->vb[v]; Py_ssize_t n = s->vl[v];
    int32_t lo = 0, hi = s->nrd;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2, r = s->rd[mid];
        if (cmpbytes(s->vb[r], s->vl[r], b, n) < 0) lo = mid + 1; else hi = mid;
    }
    if (lo >= s->nrd) return 0;
    int32_t r = s->rd[lo];
    return s->vl[r] >= n && memcmp(s->vb[r], b, n) == 0;
}

static int32_t canon(S *s, int32_t v) {
    if (v <= V_UNREAD) return v;
    return read_somewhere(s, v) ? v : V_UNREAD;
}

/* Model.toward (str mode): could appends lead from state st to need? */
static int toward(S *s, int32_t st, int32_t need) {
    if (st == V_NONE) return 1; /* need is null or a string */
    if (st == V_UNREAD || need <= V_UNREAD) return st == need;
    return s->vl[st] <= s->vl[need] && memcmp(s->vb[need], s->vb[st], s->vl[st]) == 0;
}

/* Register.step (+ canon in str mode); ILLEGAL, a state id, or -2 on memory error */
static int32_t step(S *s, int32_t st, int32_t i) {
    int32_t f = s->fc[i];
    if (!s->strmode) {
        switch (f) {
        case F_READ: return s->O[i] == st ? st : ILLEGAL;
        case F_WRITE: return s->A[i];
        case F_CAS_OK: return st == s->A[i] ? s->B[i] : ILLEGAL;
        case F_CAS_MISMATCH: return st != s->A[i] ? st : ILLEGAL;
        }
        return ILLEGAL;
    }
    if (st == V_UNREAD) {
        switch (f) {
        case F_APPEND: return st;
        case F_WRITE: return canon(s, s->A[i]);
        case F_CAS_MISMATCH: return st;
        }
        return ILLEGAL;
    }
    switch (f) {
    case F_READ: return s->O[i] == st ? st : ILLEGAL;
    case F_WRITE: return canon(s, s->A[i]);
    case F_CAS_OK: return st == s->A[i] ? canon(s, s->B[i]) : ILLEGAL;
    case F_CAS_MISMATCH: return st != s->A[i] ? st : ILLEGAL;
    case F_APPEND: {
        int32_t a = s->A[i];
        if (st == V_NONE) return canon(s, a);
        Py_ssize_t n1 = s->vl[st], n2 = s->vl[a];
        char *buf = malloc(n1 + n2 ? n1 + n2 : 1);
        if (!buf) return -2;
        memcpy(buf, s->vb[st], n1);
        memcpy(buf + n1, s->vb[a], n2);
        int32_t id = intern(s, buf, n1 + n2, 0);
        if (id == -2) { free(buf); return -2; }
        if (s->vb[id] != buf) free(buf);
        return canon(s, id);
    }
    }
    return ILLEGAL;
}

static int32_t successor(S *s, int32_t sid, int32_t i) {
    if (sid >= s->nrows) {
        int32_t n = s->nrows ? s->nrows : 64;
        while (n <= sid) n *= 2;
        int32_t **r = realloc(s->rows, n * sizeof *r);
        if (!r) return -2;
        memset(r + s->nrows, 0, (n - s->nrows) * sizeof *r);
        s->rows = r;
        s->nrows = n;
    }
    int32_t *row = s->rows[sid];
    if (!row) {
        row = malloc(s->m * sizeof *row);
        if (!row) return -2;
        for (int32_t j = 0; j < s->m; j++) row[j] = -3;
        s->rows[sid] = row;
    }
    if (row[i] == -3) row[i] = step(s, sid, i);
    return row[i];
}

static int32_t bisect_left(const int32_t *a, int32_t n, int32_t x) {
    int32_t lo = 0, hi = n;
    while (lo < hi) { int32_t mid = (lo + hi) / 2; if (a[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
}

static int available(S *s, const int32_t *cr, const int32_t *ids, int32_t n, int32_t lo,
                     int32_t bound) {
    for (int32_t a = bisect_left(cr, n, lo); a < n && cr[a] < bound; a++)
        if (!s->linflag[ids[a]]) return 1;
    return 0;
}

static int producible(S *s, int32_t nv, int32_t bound) {
    int32_t lo = s->crank[s->nxt[s->head] >> 1];
    if (nv >= 0 && nv < s->pv_nv && s->pv_len[nv] &&
        available(s, s->pv_cr + s->pv_start[nv], s->pv_id + s->pv_start[nv], s->pv_len[nv], lo,
                  bound))
        return 1;
    if (!available(s, s->any_cr, s->any_id, s->nany, lo, bound)) return 0;
    if (toward(s, s->sid, nv)) return 1;
    for (int32_t a = bisect_left(s->all_cr, s->nall, lo); a < s->nall && s->all_cr[a] < bound;
         a++) {
        int32_t j = s->all_id[a];
        if (!s->linflag[j] && toward(s, s->prod[j], nv)) return 1;
    }
    return 0;
}

static int arena_reserve(S *s, int64_t n) {
    if (n <= s->acap) return 0;
    int64_t c = s->acap ? s->acap : 1024;
    while (c < n) c *= 2;
    int32_t *a = realloc(s->arena, c * sizeof *a);
    if (!a) return -1;
    s->arena = a;
    s->acap = c;
    return 0;
}

static S *sort_ctx;
static int by_rrank(const void *a, const void *b) {
    int32_t x = sort_ctx->rrank[*(const int32_t *)a], y = sort_ctx->rrank[*(const int32_t *)b];
    return (x > y) - (x < y);
}

/* `candidates`: the new list goes at the arena's top (after the current one, which the
 * stack may still hold). Returns 0, or -1 on memory error. */
static int candidates(S *s) {
    int64_t base = (int64_t)s->coff + s->clen;
    if (arena_reserve(s, base + 2 * (int64_t)s->m + 2) < 0) return -1;
    int32_t *reads = s->arena + base, *others = s->arena + base + s->m;
    int32_t nr = 0, no = 0;
    int32_t e = s->nxt[s->head];
    while (!(e & 1)) {
        int32_t i = e >> 1;
        if (s->pure[i]) reads[nr++] = i; else others[no++] = i;
        e = s->nxt[e];
    }
    int32_t y = e >> 1;
    int32_t st = s->sid;
    s->coff = (int32_t)base;
    s->R = e;
    for (int pass = 0; pass < 2; pass++) {
        int32_t *lst = pass ? others : reads, n = pass ? no : nr;
        for (int32_t q = 0; q < n; q++) {
            int32_t x = lst[q], nv = s->needs[x];
            if (nv != NOCHECK && st != nv && !producible(s, nv, s->rrank[x])) {
                s->clen = 0;
                s->culprit = x;
                return 0;
            }
        }
    }
    int32_t nv = s->needs[y];
    sort_ctx = s;
    if (nr > 1) qsort(reads, nr, sizeof *reads, by_rrank);
    if (no > 1) qsort(others, no, sizeof *others, by_rrank);
    if (nv != NOCHECK && st != nv && no) {
        /* `_toward`: a stable partition, ops producing nv (or moving toward it) first */
        int32_t *tmp = malloc(no * sizeof *tmp);
        uint8_t *good = malloc(no);
        if (!tmp || !good) { free(tmp); free(good); return -1; }
        int32_t ng = 0;
        for (int32_t q = 0; q < no; q++) {
            int32_t i = others[q], pv = s->prod[i];
            if (pv == ANYTHING) {
                int32_t r = successor(s, s->sid, i);
                if (r == -2) { free(tmp); free(good); return -1; }
                good[q] = r >= 0 && toward(s, r, nv);
            } else {
                good[q] = pv != NOTHING && pv == nv;
            }
            ng += good[q];
        }
        if (ng && ng < no) {
            int32_t w = 0;
            for (int32_t q = 0; q < no; q++) if (good[q]) tmp[w++] = others[q];
            for (int32_t q = 0; q < no; q++) if (!good[q]) tmp[w++] = others[q];
            memcpy(others, tmp, no * sizeof *tmp);
        }
        free(tmp);
        free(good);
    }
    memmove(reads + nr, others, no * sizeof *others);
    s->clen = nr + no;
    s->culprit = -1;
    return 0;
}

static uint64_t mhash(int32_t low, int32_t r, const lw_t *lw) {
    uint64_t h = (uint64_t)(uint32_t)low * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)r * 0xC2B2AE3D27D4EB4FULL;
    for (int j = 0; j < MAXW; j++) { h ^= lw->w[j]; h *= 0x100000001B3ULL; h ^= h >> 29; }
    return h;
}

/* Insert (low, r, lw) into the memo: 1 when new, 0 when seen, -1 on memory error. */
static int memo_add(S *s, int32_t low, int32_t r, const lw_t *lw) {
    if ((s->mcount + 1) * 2 > s->mcap) {
        int64_t nc = s->mcap ? s->mcap * 2 : 4096;
        mkey_t *t = calloc(nc, sizeof *t);
        if (!t) return -1;
        for (int64_t j = 0; j < s->mcap; j++) {
            mkey_t *e = &s->memo[j];
            if (!e->used) continue;
            uint64_t p = mhash(e->low, e->r, &e->lw) & (nc - 1);
            while (t[p].used) p = (p + 1) & (nc - 1);
            t[p] = *e;
        }
        free(s->memo);
        s->memo = t;
        s->mcap = nc;
    }
    uint64_t p = mhash(low, r, lw) & (s->mcap - 1);
    while (s->memo[p].used) {
        mkey_t *e = &s->memo[p];
        if (e->low == low && e->r == r && memcmp(&e->lw, lw, sizeof *lw) == 0) return 0;
        p = (p + 1) & (s->mcap - 1);
    }
    mkey_t *e = &s->memo[p];
    e->used = 1; e->low = low; e->r = r; e->lw = *lw;
    s->mcount++;
    return 1;
}

static void free_state(S *s) {
    if (s->strmode)
        for (int32_t v = 2; v < s->nv; v++) free(s->vb[v]);
    free(s->vb); free(s->vl); free(s->vh); free(s->vtab); free(s->rd);
    free(s->fc); free(s->A); free(s->B); free(s->O); free(s->needs); free(s->prod);
    free(s->pure); free(s->linflag); free(s->nxt); free(s->prv); free(s->crank); free(s->rrank);
    free(s->pv_start); free(s->pv_len); free(s->pv_cr); free(s->pv_id);
    free(s->any_cr); free(s->any_id); free(s->all_cr); free(s->all_id);
    for (int32_t j = 0; j < s->nrows; j++) free(s->rows[j]);
    free(s->rows); free(s->memo); free(s->stack); free(s->arena);
    free(s->best_i); free(s->best_sid);
    free(s);
}

static void capsule_free(PyObject *cap) {
    S *s = PyCapsule_GetPointer(cap, "paxlab.search");
    if (s) free_state(s);
}

/* A value of an op in str mode: None -> V_NONE, str -> interned id; -2 on error. */
static int32_t str_value(S *s, PyObject *o) {
    if (o == Py_None) return V_NONE;
    Py_ssize_t n;
    const char *b = PyUnicode_AsUTF8AndSize(o, &n);
    if (!b) return -2;
    return intern(s, b, n, 1);
}

typedef struct { int64_t pos; int32_t kind, i; } ent_t;
static int by_ent(const void *a, const void *b) {
    const ent_t *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    if (x->kind != y->kind) return x->kind - y->kind;
    return x->i - y->i;
}

static S *g_s;
static int by_bytes(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return cmpbytes(g_s->vb[x], g_s->vl[x], g_s->vb[y], g_s->vl[y]);
}
static int by_pv_cr(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    int32_t px = g_s->prod[x], py = g_s->prod[y];
    if (px != py) return px < py ? -1 : 1;
    return (g_s->crank[x] > g_s->crank[y]) - (g_s->crank[x] < g_s->crank[y]);
}

#define ALLOC(p, n) do { (p) = calloc((n) > 0 ? (size_t)(n) : 1, sizeof *(p)); if (!(p)) goto nomem; } while (0)

/* new(fcodes: bytes, calls, rets, A, B, O, init, strmode) -> capsule.
 * Ops are already in the search's order (by call, then line). */
static PyObject *nat_new(PyObject *self, PyObject *args) {
    Py_buffer fbuf;
    PyObject *calls, *rets, *Al, *Bl, *Ol, *init;
    int strmode;
    if (!PyArg_ParseTuple(args, "y*OOOOOOp", &fbuf, &calls, &rets, &Al, &Bl, &Ol, &init, &strmode))
        return NULL;
    S *s = calloc(1, sizeof *s);
    ent_t *ents = NULL;
    int32_t *order = NULL;
    if (!s) { PyBuffer_Release(&fbuf); return PyErr_NoMemory(); }
    int32_t m = (int32_t)fbuf.len;
    s->m = m;
    s->strmode = strmode;
    ALLOC(s->fc, m); ALLOC(s->A, m); ALLOC(s->B, m); ALLOC(s->O, m);
    ALLOC(s->needs, m); ALLOC(s->prod, m); ALLOC(s->pure, m); ALLOC(s->linflag, m);
    if (strmode) {
        if (grow_values(s) < 0) goto nomem;
        s->vb[0] = s->vb[1] = NULL; s->vl[0] = s->vl[1] = 0; s->vh[0] = s->vh[1] = 0;
        s->nv = 2;
    }
    for (int32_t i = 0; i < m; i++) {
        int32_t f = ((unsigned char *)fbuf.buf)[i];
        s->fc[i] = f;
        PyObject *a = PyList_GET_ITEM(Al, i), *b = PyList_GET_ITEM(Bl, i), *o = PyList_GET_ITEM(Ol, i);
        if (strmode) {
            s->A[i] = str_value(s, a); s->B[i] = str_value(s, b); s->O[i] = str_value(s, o);
            if (s->A[i] == -2 || s->B[i] == -2 || s->O[i] == -2) goto fail;
        } else {
            s->A[i] = (int32_t)PyLong_AsLong(a); s->B[i] = (int32_t)PyLong_AsLong(b);
            s->O[i] = (int32_t)PyLong_AsLong(o);
            if (PyErr_Occurred()) goto fail;
        }
        s->pure[i] = f == F_READ || f == F_CAS_MISMATCH;
        switch (f) {
        case F_READ: s->needs[i] = s->O[i]; s->prod[i] = NOTHING; break;
        case F_WRITE: s->needs[i] = NOCHECK; s->prod[i] = s->A[i]; break;
        case F_CAS_OK: s->needs[i] = s->A[i]; s->prod[i] = s->B[i]; break;
        case F_CAS_MISMATCH: s->needs[i] = NOCHECK; s->prod[i] = NOTHING; break;
        default: s->needs[i] = NOCHECK; s->prod[i] = ANYTHING; break;
        }
    }
    int32_t start;
    if (strmode) {
        start = str_value(s, init);
        if (start == -2) goto fail;
        /* the strings a read or a cas sees, sorted */
        ALLOC(s->rd, m);
        uint8_t *seen = calloc(s->nv, 1);
        if (!seen) goto nomem;
        for (int32_t i = 0; i < m; i++) {
            int32_t v = s->fc[i] == F_READ ? s->O[i] : (s->fc[i] == F_CAS_OK || s->fc[i] == F_CAS_MISMATCH) ? s->A[i] : -1;
            if (v < 2 || seen[v]) continue;
            seen[v] = 1;
            s->rd[s->nrd++] = v;
        }
        free(seen);
        g_s = s;
        qsort(s->rd, s->nrd, sizeof *s->rd, by_bytes);
        start = canon(s, start);
    } else {
        start = (int32_t)PyLong_AsLong(init);
        if (PyErr_Occurred()) goto fail;
    }
    s->start = start;
    /* linked entries (`linked_entries`, no info ops) */
    ALLOC(ents, 2 * m);
    for (int32_t i = 0; i < m; i++) {
        ents[2 * i].pos = PyLong_AsLongLong(PyList_GET_ITEM(calls, i));
        ents[2 * i].kind = 0; ents[2 * i].i = i;
        ents[2 * i + 1].pos = PyLong_AsLongLong(PyList_GET_ITEM(rets, i));
        ents[2 * i + 1].kind = 1; ents[2 * i + 1].i = i;
    }
    if (PyErr_Occurred()) goto fail;
    qsort(ents, 2 * m, sizeof *ents, by_ent);
    ALLOC(s->nxt, 2 * m + 2); ALLOC(s->prv, 2 * m + 2); ALLOC(s->crank, m + 2); ALLOC(s->rrank, m + 1);
    int32_t head = 2 * m, tail = 2 * m + 1, last = head;
    s->head = head;
    for (int32_t rank = 0; rank < 2 * m; rank++) {
        int32_t i = ents[rank].i, e;
        if (ents[rank].kind) { s->rrank[i] = rank; e = 2 * i + 1; }
        else { s->crank[i] = rank; e = 2 * i; }
        s->nxt[last] = e; s->prv[e] = last; last = e;
    }
    s->nxt[last] = tail; s->prv[tail] = last; s->nxt[tail] = tail;
    s->crank[m] = 0; s->crank[m + 1] = 2 * m + 1;
    /* producers */
    ALLOC(order, m);
    int32_t no = 0, maxv = -1;
    for (int32_t i = 0; i < m; i++) {
        int32_t p = s->prod[i];
        if (p >= 0) { order[no++] = i; if (p > maxv) maxv = p; }
    }
    g_s = s;
    qsort(order, no, sizeof *order, by_pv_cr);
    s->pv_nv = maxv + 1;
    ALLOC(s->pv_start, s->pv_nv); ALLOC(s->pv_len, s->pv_nv); ALLOC(s->pv_cr, no); ALLOC(s->pv_id, no);
    for (int32_t q = 0; q < no; q++) {
        int32_t i = order[q], p = s->prod[i];
        if (!s->pv_len[p]) s->pv_start[p] = q;
        s->pv_len[p]++;
        s->pv_cr[q] = s->crank[i]; s->pv_id[q] = i;
    }
    ALLOC(s->any_cr, m); ALLOC(s->any_id, m); ALLOC(s->all_cr, m); ALLOC(s->all_id, m);
    /* by call rank: ops are in call order, and ranks grow with it */
    int32_t *bycr = order;
    for (int32_t i = 0; i < m; i++) bycr[i] = i;
    for (int32_t i = 1; i < m; i++) { /* insertion sort by crank (nearly sorted already) */
        int32_t x = bycr[i], q = i;
        while (q > 0 && s->crank[bycr[q - 1]] > s->crank[x]) { bycr[q] = bycr[q - 1]; q--; }
        bycr[q] = x;
    }
    for (int32_t q = 0; q < m; q++) {
        int32_t i = bycr[q], p = s->prod[i];
        if (p == ANYTHING) { s->any_cr[s->nany] = s->crank[i]; s->any_id[s->nany++] = i; }
        else if (p >= 0) { s->all_cr[s->nall] = s->crank[i]; s->all_id[s->nall++] = i; }
    }
    free(ents);
    free(order);
    PyBuffer_Release(&fbuf);
    s->sid = start;
    s->best_len = -(int64_t)(m + 1);
    s->remaining = m;
    PyObject *cap = PyCapsule_New(s, "paxlab.search", capsule_free);
    if (!cap) { free_state(s); return NULL; }
    return cap;
nomem:
    PyErr_NoMemory();
fail:
    free(ents);
    free(order);
    PyBuffer_Release(&fbuf);
    free_state(s);
    return NULL;
}

static PyObject *result_invalid(S *s) {
    PyObject *prefix = PyList_New(s->best_depth), *states = PyList_New(s->best_depth);
    if (!prefix || !states) goto err;
    for (int32_t q = 0; q < s->best_depth; q++) {
        PyList_SET_ITEM(prefix, q, PyLong_FromLong(s->best_i[q]));
        int32_t sid = q + 1 < s->best_depth ? s->best_sid[q + 1] : s->best_last;
        PyObject *v;
        if (!s->strmode) v = PyLong_FromLong(sid);
        else if (sid == V_NONE) { v = Py_None; Py_INCREF(v); }
        else if (sid == V_UNREAD) v = PyLong_FromLong(-1);
        else v = PyUnicode_DecodeUTF8(s->vb[sid], s->vl[sid], "strict");
        if (!v) goto err;
        PyList_SET_ITEM(states, q, v);
    }
    return Py_BuildValue("(OLiNN)", Py_False, (long long)s->it, s->best_fail, prefix, states);
err:
    Py_XDECREF(prefix);
    Py_XDECREF(states);
    return NULL;
}

#define NOMEM() do { PyErr_NoMemory(); return NULL; } while (0)

/* run(capsule) -> int (configurations so far: not done yet), "wide" (window too wide:
 * use the Python search), (True, explored) or (False, explored, fail_at, prefix, states). */
static PyObject *nat_run(PyObject *self, PyObject *cap) {
    S *s = PyCapsule_GetPointer(cap, "paxlab.search");
    if (!s) return NULL;
    if (s->done) { PyErr_SetString(PyExc_RuntimeError, "search already ended"); return NULL; }
    if (!s->started) {
        s->started = 1;
        if (s->m == 0) { s->done = 1; return Py_BuildValue("(OL)", Py_True, 0LL); }
        s->coff = 0; s->clen = 0;
        if (candidates(s) < 0) NOMEM();
        s->k = 0;
    }
    for (;;) {
        if (s->paused) {
            s->paused = 0; /* resume where the last call yielded */
        } else {
            s->it++;
            if (!(s->it % CHECK_EVERY)) { s->paused = 1; return PyLong_FromLongLong(s->it); }
        }
        int backtrack = 0;
        if (s->k < s->clen) {
            int32_t i = s->arena[s->coff + s->k];
            s->k++;
            int32_t r = successor(s, s->sid, i);
            if (r == -2) NOMEM();
            if (r < 0) continue;
            int32_t pos = i - s->low;
            if (pos >= 64 * MAXW) { s->done = 1; return PyUnicode_FromString("wide"); }
            lw_t nlw = s->lw;
            nlw.w[pos >> 6] |= 1ULL << (pos & 63);
            int32_t t = 0;
            while (t < 64 * MAXW && (nlw.w[t >> 6] >> (t & 63) & 1)) t++;
            if (t) { /* nlw >>= t */
                int32_t ws = t >> 6, bs = t & 63;
                lw_t sh;
                for (int j = 0; j < MAXW; j++) {
                    uint64_t lo = j + ws < MAXW ? nlw.w[j + ws] : 0;
                    uint64_t hi = j + ws + 1 < MAXW ? nlw.w[j + ws + 1] : 0;
                    sh.w[j] = bs ? (lo >> bs) | (hi << (64 - bs)) : lo;
                }
                nlw = sh;
            }
            int32_t nlow = s->low + t;
            int fresh = memo_add(s, nlow, r, &nlw);
            if (fresh < 0) NOMEM();
            if (fresh) {
                if (s->depth >= s->scap) {
                    int32_t c = s->scap ? s->scap * 2 : 256;
                    frame_t *st = realloc(s->stack, c * sizeof *st);
                    if (!st) NOMEM();
                    s->stack = st;
                    s->scap = c;
                }
                frame_t *fr = &s->stack[s->depth++];
                fr->i = i; fr->sid = s->sid; fr->greedy = s->pure[i]; fr->coff = s->coff;
                fr->clen = s->clen; fr->k = s->k; fr->R = s->R; fr->low = s->low; fr->lw = s->lw;
                s->low = nlow; s->lw = nlw; s->sid = r;
                int32_t c = 2 * i, a = s->prv[c], b = s->nxt[c];
                s->nxt[a] = b; s->prv[b] = a;
                int at_head = a == s->head;
                c++;
                a = s->prv[c]; b = s->nxt[c];
                s->nxt[a] = b; s->prv[b] = a;
                /* (the Python search flags only info ops: none here) */
                s->remaining--;
                if (!s->remaining) { s->done = 1; return Py_BuildValue("(OL)", Py_True, (long long)s->it); }
                if (c != s->R && !at_head && s->pure[i] && r == fr->sid) {
                    /* the parent's list less this op (see the Python search) */
                    int64_t base = (int64_t)s->coff + s->clen;
                    if (arena_reserve(s, base + s->clen) < 0) NOMEM();
                    int32_t *src = s->arena + s->coff, *dst = s->arena + base, w = 0;
                    for (int32_t q = 0; q < s->clen; q++) if (q != s->k - 1) dst[w++] = src[q];
                    s->coff = (int32_t)base; s->clen = w; s->k = 0;
                    continue;
                }
                if (candidates(s) < 0) NOMEM();
                s->k = 0;
                continue;
            }
            if (!s->pure[i]) continue;
            backtrack = 1;
        }
        if (!backtrack && -(int64_t)s->remaining > s->best_len) {
            s->best_len = -(int64_t)s->remaining;
            int32_t d = s->depth;
            int32_t *bi = realloc(s->best_i, (d ? d : 1) * sizeof *bi);
            if (!bi) NOMEM();
            s->best_i = bi;
            int32_t *bs = realloc(s->best_sid, (d ? d : 1) * sizeof *bs);
            if (!bs) NOMEM();
            s->best_sid = bs;
            for (int32_t q = 0; q < d; q++) { bi[q] = s->stack[q].i; bs[q] = s->stack[q].sid; }
            s->best_depth = d;
            s->best_last = s->sid;
            s->best_fail = s->culprit >= 0 ? s->culprit : s->R >> 1;
            s->has_best = 1;
        }
        for (;;) {
            if (!s->depth) {
                s->done = 1;
                if (!s->has_best) return PyUnicode_FromString("wide");
                return result_invalid(s);
            }
            frame_t *fr = &s->stack[--s->depth];
            int32_t i = fr->i;
            s->sid = fr->sid; s->coff = fr->coff; s->clen = fr->clen; s->k = fr->k;
            s->R = fr->R; s->low = fr->low; s->lw = fr->lw;
            s->linflag[i] = 0;
            int32_t c = 2 * i + 1;
            s->nxt[s->prv[c]] = c; s->prv[s->nxt[c]] = c;
            c--;
            s->nxt[s->prv[c]] = c; s->prv[s->nxt[c]] = c;
            s->remaining++;
            if (!fr->greedy) { s->culprit = -1; break; }
        }
    }
}


/* ---- the history reader: `history.iter_ops(history.iter_events(path))`, for files in the
 * common shape (see checker/native.py `read_ops`). It builds exactly the Ops the Python
 * reader builds, or returns None, leaving the file to the Python reader, at the first
 * thing it does not handle or that the Python reader would refuse (with its own message):
 * escapes in strings, floats, objects as values, duplicate fields, a bad pairing, ... */

typedef struct { const char *p, *end; } cur_t;

static void ws(cur_t *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

/* A string without escapes; NULL (no error set) to decline. */
static PyObject *rd_string(cur_t *c) {
    const char *s = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '\\' || ch < 0x20) return NULL;
        c->p++;
    }
    if (c->p >= c->end) return NULL;
    PyObject *o = PyUnicode_DecodeUTF8(s, c->p - s, "strict");
    c->p++;
    if (!o) PyErr_Clear();
    return o;
}

static PyObject *rd_value(cur_t *c, int depth);

static PyObject *rd_number(cur_t *c) {
    const char *s = c->p;
    int neg = 0;
    if (*c->p == '-') { neg = 1; c->p++; }
    const char *d = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    Py_ssize_t nd = c->p - d;
    if (nd == 0 || nd > 18 || (nd > 1 && *d == '0')) return NULL;
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return NULL;
    long long v = 0;
    for (const char *q = d; q < c->p; q++) v = v * 10 + (*q - '0');
    (void)s;
    return PyLong_FromLongLong(neg ? -v : v);
}

static int lit(cur_t *c, const char *w, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, w, n)) return 0;
    c->p += n;
    return 1;
}

static PyObject *rd_value(cur_t *c, int depth) {
    ws(c);
    if (c->p >= c->end) return NULL;
    char ch = *c->p;
    if (ch == '"') return rd_string(c);
    if (ch == '-' || (ch >= '0' && ch <= '9')) return rd_number(c);
    if (ch == 'n') { if (!lit(c, "null", 4)) return NULL; Py_RETURN_NONE; }
    if (ch == 't') { if (!lit(c, "true", 4)) return NULL; Py_RETURN_TRUE; }
    if (ch == 'f') { if (!lit(c, "false", 5)) return NULL; Py_RETURN_FALSE; }
    if (ch != '[' || depth >= 4) return NULL;
    c->p++;
    PyObject *l = PyList_New(0);
    if (!l) { PyErr_Clear(); return NULL; }
    ws(c);
    if (c->p < c->end && *c->p == ']') { c->p++; return l; }
    for (;;) {
        PyObject *v = rd_value(c, depth + 1);
        if (!v || PyList_Append(l, v) < 0) { Py_XDECREF(v); Py_DECREF(l); PyErr_Clear(); return NULL; }
        Py_DECREF(v);
        ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == ']') { c->p++; return l; }
        Py_DECREF(l);
        return NULL;
    }
}

enum { K_TYPE, K_PROCESS, K_F, K_KEY, K_VALUE, K_TIME, K_INDEX, K_ERROR, K_N };
static const char *const FIELD[K_N] = {"type", "process", "f", "key", "value", "time", "index", "error"};

static PyObject *s_info;

/* One event line -> fields[K_N] (new references or NULL when absent); 1 ok, 0 decline,
 * 2 blank line. Extra fields are read and dropped. */
static int rd_event(cur_t *c, PyObject **fld) {
    for (int j = 0; j < K_N; j++) fld[j] = NULL;
    ws(c);
    if (c->p >= c->end) return 2;
    if (*c->p != '{') return 0;
    c->p++;
    ws(c);
    if (c->p < c->end && *c->p == '}') { c->p++; goto tail; }
    for (;;) {
        ws(c);
        if (c->p >= c->end || *c->p != '"') return 0;
        const char *k = ++c->p;
        while (c->p < c->end && *c->p != '"') {
            unsigned char ch = (unsigned char)*c->p;
            if (ch == '\\' || ch < 0x20 || ch >= 0x80) return 0; /* escapes, controls, non-ASCII */
            c->p++;
        }
        if (c->p >= c->end) return 0;
        Py_ssize_t kn = c->p - k;
        c->p++;
        int which = -1;
        for (int j = 0; j < K_N; j++)
            if ((Py_ssize_t)strlen(FIELD[j]) == kn && !memcmp(FIELD[j], k, kn)) { which = j; break; }
        ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        PyObject *v = rd_value(c, 0);
        if (!v) return 0;
        if (which < 0) {
            Py_DECREF(v); /* an extra field (node, latency): checked, not kept */
        } else {
            if (fld[which]) { Py_DECREF(v); return 0; } /* duplicate field */
            fld[which] = v;
        }
        ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == '}') { c->p++; break; }
        return 0;
    }
tail:
    ws(c);
    return c->p >= c->end;
}

static int is_int(PyObject *o) { return PyLong_CheckExact(o); }


/* Op's slots, written directly: calling Op(...) (its Python __init__) for every op was
 * half of reading a history. The offsets come from Op's own member descriptors. */
enum { O_PROCESS, O_F, O_KEY, O_VALUE, O_TYPE, O_OUTPUT, O_ERROR, O_CALL, O_RET, O_INDEX,
       O_RET_INDEX, O_LINE, O_RET_LINE, O_N };
static const char *const OP_SLOT[O_N] = {"process", "f", "key", "value", "type", "output",
    "error", "call", "ret", "index", "ret_index", "line", "ret_line"};
static Py_ssize_t op_off[O_N];
static PyObject *op_cls;

static int op_offsets(PyObject *cls) {
    if (cls == op_cls) return 0;
    if (!PyType_Check(cls)) return -1;
    for (int j = 0; j < O_N; j++) {
        PyObject *d = PyDict_GetItemString(((PyTypeObject *)cls)->tp_dict, OP_SLOT[j]);
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type)) return -1;
        PyMemberDef *md = ((PyMemberDescrObject *)d)->d_member;
        if (md->type != T_OBJECT_EX) return -1;
        op_off[j] = md->offset;
    }
    Py_XDECREF(op_cls);
    Py_INCREF(cls);
    op_cls = cls;
    return 0;
}

#define SLOT(op, j) (*(PyObject **)((char *)(op) + op_off[j]))

static void op_set(PyObject *op, int j, PyObject *v) {
    Py_INCREF(v);
    Py_XSETREF(SLOT(op, j), v);
}

/* read_ops(data: bytes, Op) -> the Ops `iter_ops(iter_events(...))` yields, in the order
 * `history.ops_from` sorts them (by call, then line: the order of their invocations, as
 * positions never decrease down the file), or None */
static PyObject *nat_read_ops(PyObject *self, PyObject *args) {
    Py_buffer buf;
    PyObject *opcls;
    if (!PyArg_ParseTuple(args, "y*O", &buf, &opcls)) return NULL;
    if (op_offsets(opcls) < 0) { PyBuffer_Release(&buf); Py_RETURN_NONE; }
    const char *p = buf.buf, *end = p + buf.len;
    PyObject *out = PyList_New(0), *pending = PyDict_New();
    PyObject *fld[K_N] = {0};
    PyObject *result = NULL;
    if (!out || !pending) goto done;
    long long lineno = 0, n = 0, last_pos = 0;
    int indexed = -1, timed = -1, have_last = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        const char *le = nl ? nl : end;
        lineno++;
        cur_t c = {p, le};
        p = nl ? nl + 1 : end;
        int r = rd_event(&c, fld);
        if (r == 2) continue;
        if (r == 0) goto decline;
        PyObject *t = fld[K_TYPE], *pr = fld[K_PROCESS], *f = fld[K_F], *tm = fld[K_TIME],
                 *ix = fld[K_INDEX], *key = fld[K_KEY];
        if (!t || !PyUnicode_CheckExact(t) || !f || !PyUnicode_CheckExact(f) || !pr ||
            !(is_int(pr) || PyUnicode_CheckExact(pr)))
            goto decline;
        int kind;
        if (PyUnicode_CompareWithASCIIString(t, "invoke") == 0) kind = 0;
        else if (PyUnicode_CompareWithASCIIString(t, "ok") == 0) kind = 1;
        else if (PyUnicode_CompareWithASCIIString(t, "fail") == 0) kind = 2;
        else if (PyUnicode_CompareWithASCIIString(t, "info") == 0) kind = 3;
        else goto decline;
        if (tm && tm != Py_None && !is_int(tm)) goto decline;
        if (ix && ix != Py_None && !is_int(ix)) goto decline;
        if (key && key != Py_None && !(is_int(key) || PyUnicode_CheckExact(key))) goto decline;
        /* indices: 0, 1, 2, ... on every event or on none */
        int has_ix = ix && ix != Py_None;
        if (indexed < 0) indexed = has_ix;
        if (has_ix != indexed) goto decline;
        if (has_ix && PyLong_AsLongLong(ix) != n) { PyErr_Clear(); goto decline; }
        PyObject *index = ix ? ix : NULL; /* ev.get("index", n) */
        int has_time = tm && tm != Py_None;
        if (timed < 0) timed = has_time;
        if (has_time != timed) goto decline;
        long long pos;
        if (timed) {
            int ovf;
            pos = PyLong_AsLongLongAndOverflow(tm, &ovf);
            if (ovf || (pos == -1 && PyErr_Occurred())) { PyErr_Clear(); goto decline; }
        } else {
            pos = lineno;
        }
        if (have_last && pos < last_pos && timed) pos = last_pos;
        last_pos = pos;
        have_last = 1;
        PyObject *idx = index ? (Py_INCREF(index), index) : PyLong_FromLongLong(n);
        n++;
        if (!idx) goto done;
        if (PyUnicode_CheckExact(pr) && PyUnicode_CompareWithASCIIString(pr, "nemesis") == 0) {
            Py_DECREF(idx);
            goto next;
        }
        PyObject *ln = PyLong_FromLongLong(lineno), *ps = PyLong_FromLongLong(pos);
        if (!ln || !ps) { Py_XDECREF(ln); Py_XDECREF(ps); Py_DECREF(idx); goto done; }
        if (kind == 0) {
            if (PyDict_GetItemWithError(pending, pr)) { Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx); goto decline; }
            if (PyErr_Occurred()) { Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx); goto done; }
            PyObject *val = fld[K_VALUE] ? fld[K_VALUE] : Py_None;
            PyObject *op = ((PyTypeObject *)opcls)->tp_alloc((PyTypeObject *)opcls, 0);
            if (!op) { Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx); goto done; }
            PyObject *vals[O_N] = {pr, f, key ? key : Py_None, val, s_info, Py_None, Py_None, ps,
                                   Py_None, idx, Py_None, ln, Py_None};
            for (int j = 0; j < O_N; j++) op_set(op, j, vals[j]);
            Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx);
            int e = PyDict_SetItem(pending, pr, op) < 0 || PyList_Append(out, op) < 0;
            Py_DECREF(op);
            if (e < 0) goto done;
        } else {
            PyObject *op = PyDict_GetItemWithError(pending, pr);
            if (!op) { Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx); if (PyErr_Occurred()) goto done; goto decline; }
            Py_INCREF(op);
            PyDict_DelItem(pending, pr);
            int bad = PyObject_RichCompareBool(f, SLOT(op, O_F), Py_NE) != 0;
            if (!bad && key) bad = PyObject_RichCompareBool(key, SLOT(op, O_KEY), Py_NE) != 0;
            if (bad) { PyErr_Clear(); Py_DECREF(op); Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx); goto decline; }
            op_set(op, O_TYPE, t);
            op_set(op, O_OUTPUT, fld[K_VALUE] ? fld[K_VALUE] : Py_None);
            op_set(op, O_ERROR, fld[K_ERROR] ? fld[K_ERROR] : Py_None);
            op_set(op, O_RET_INDEX, idx);
            op_set(op, O_RET_LINE, ln);
            op_set(op, O_RET, kind == 3 ? Py_None : ps);
            int e = 0;
            Py_DECREF(op); Py_DECREF(ln); Py_DECREF(ps); Py_DECREF(idx);
            if (e) goto done;
        }
    next:
        for (int j = 0; j < K_N; j++) Py_CLEAR(fld[j]);
    }
    result = out;
    out = NULL;
    goto done;
decline:
    result = Py_None;
    Py_INCREF(result);
done:
    for (int j = 0; j < K_N; j++) Py_XDECREF(fld[j]);
    Py_XDECREF(out);
    Py_XDECREF(pending);
    PyBuffer_Release(&buf);
    return result;
}

static int str_or_none(PyObject *o) { return o == Py_None || PyUnicode_CheckExact(o); }

/* encode_str(ops, Op) -> (codes, calls, rets, A, B, O) for `new` in str mode, read from
 * the Ops' slots; None unless the ops are sorted by (call, line), all determinate, of
 * read / write / cas / append with string or null values, and hold an append. (What
 * `native._encode` does for them, without a Python loop over every op.) */
static PyObject *nat_encode_str(PyObject *self, PyObject *args) {
    PyObject *ops, *opcls;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &ops, &opcls)) return NULL;
    if (op_offsets(opcls) < 0) Py_RETURN_NONE;
    Py_ssize_t m = PyList_GET_SIZE(ops);
    PyObject *codes = PyBytes_FromStringAndSize(NULL, m), *calls = PyList_New(m),
             *rets = PyList_New(m), *A = PyList_New(m), *B = PyList_New(m), *O = PyList_New(m);
    PyObject *res = NULL;
    if (!codes || !calls || !rets || !A || !B || !O) goto out;
    char *cb = PyBytes_AS_STRING(codes);
    int appends = 0;
    PyObject *pc = NULL, *pl = NULL;
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *op = PyList_GET_ITEM(ops, i);
        if (Py_TYPE(op) != (PyTypeObject *)opcls) goto decline;
        PyObject *f = SLOT(op, O_F), *t = SLOT(op, O_TYPE), *v = SLOT(op, O_VALUE),
                 *o = SLOT(op, O_OUTPUT), *c = SLOT(op, O_CALL), *r = SLOT(op, O_RET),
                 *ln = SLOT(op, O_LINE);
        if (!f || !t || !v || !o || !c || !r || !ln || !PyUnicode_CheckExact(f) ||
            !PyUnicode_CheckExact(t) || !PyLong_CheckExact(c) || !PyLong_CheckExact(r))
            goto decline;
        if (pc) { /* sorted by (call, line)? */
            int lt = PyObject_RichCompareBool(c, pc, Py_LT);
            int eq = lt ? 0 : PyObject_RichCompareBool(c, pc, Py_EQ);
            int lt2 = eq ? PyObject_RichCompareBool(ln, pl, Py_LT) : 0;
            if (lt < 0 || eq < 0 || lt2 < 0) goto err;
            if (lt || lt2) goto decline;
        }
        pc = c; pl = ln;
        int ok = PyUnicode_CompareWithASCIIString(t, "ok") == 0;
        int fail = !ok && PyUnicode_CompareWithASCIIString(t, "fail") == 0;
        if (!ok && !fail) goto decline;
        PyObject *a = Py_None, *b = Py_None, *out = Py_None;
        char code;
        if (PyUnicode_CompareWithASCIIString(f, "read") == 0) {
            code = F_READ; out = o;
            if (!ok || !str_or_none(out)) goto decline;
        } else if (PyUnicode_CompareWithASCIIString(f, "write") == 0) {
            code = F_WRITE; a = v;
            if (!ok || !str_or_none(a)) goto decline;
        } else if (PyUnicode_CompareWithASCIIString(f, "append") == 0) {
            code = F_APPEND; a = v; appends = 1;
            if (!ok || !PyUnicode_CheckExact(a)) goto decline;
        } else if (PyUnicode_CompareWithASCIIString(f, "cas") == 0) {
            code = ok ? F_CAS_OK : F_CAS_MISMATCH;
            if (!PyList_CheckExact(v) || PyList_GET_SIZE(v) != 2) goto decline;
            a = PyList_GET_ITEM(v, 0); b = PyList_GET_ITEM(v, 1);
            if (!str_or_none(a) || !str_or_none(b)) goto decline;
        } else {
            goto decline;
        }
        cb[i] = code;
        Py_INCREF(c); PyList_SET_ITEM(calls, i, c);
        Py_INCREF(r); PyList_SET_ITEM(rets, i, r);
        Py_INCREF(a); PyList_SET_ITEM(A, i, a);
        Py_INCREF(b); PyList_SET_ITEM(B, i, b);
        Py_INCREF(out); PyList_SET_ITEM(O, i, out);
    }
    if (!appends) goto decline;
    res = PyTuple_Pack(6, codes, calls, rets, A, B, O);
    goto out;
decline:
    res = Py_None;
    Py_INCREF(res);
    goto out;
err:
    res = NULL;
out:
    Py_XDECREF(codes); Py_XDECREF(calls); Py_XDECREF(rets);
    Py_XDECREF(A); Py_XDECREF(B); Py_XDECREF(O);
    return res;
}

static PyMethodDef methods[] = {
    {"new", nat_new, METH_VARARGS, "Set up the search of one sub-history."},
    {"run", nat_run, METH_O, "Run the search up to its next yield point or its end."},
    {"encode_str", nat_encode_str, METH_VARARGS, "new()'s arguments for string ops, or None."},
    {"read_ops", nat_read_ops, METH_VARARGS, "A history's Ops, as the Python reader gives them, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "checker._native",
                                    "The linearizability search in C (see checker/native.py).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    if (!(s_info = PyUnicode_InternFromString("info"))) return NULL;
    return PyModule_Create(&module);
}
