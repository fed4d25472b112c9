/* Policy decisions (policy_decide) with the default policy and with a
 * generated one of 1 000 rules and 10 000 live grants.  Each decision is
 * timed on its own with CLOCK_MONOTONIC; the figures include one clock
 * read (its cost is reported as timer_overhead_ns).  Requests are a fixed
 * mix: half aimed at a rule (its subject, action, purpose and a selected
 * field), a quarter at a grant, a quarter random, so the engine walks
 * real candidate lists instead of only empty buckets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "policy/policy.h"

#define GEN_RULES 1000
#define GEN_GRANTS 10000
#define GEN_GRADES 5
#define GEN_FIELDS 60
#define GEN_DEPTS 40
#define GEN_ROLES 80
#define GEN_PURPOSES 16
#define GEN_USERS 2000
#define GEN_RECORDS 4096
#define NREQ 8192
#define NACTIONS 4 /* read, write, search, export: the field-level ones */

static const int field_actions[NACTIONS] = {VAULT_ACTION_READ, VAULT_ACTION_WRITE,
                                            VAULT_ACTION_SEARCH, VAULT_ACTION_EXPORT};
static const char *const action_names[] = {"read", "write", "create", "search", "erase", "export"};

/* One request with its own copies of every string. */
typedef struct req {
    char user[16], role[VAULT_NAME_MAX], dept[VAULT_NAME_MAX], purpose[VAULT_NAME_MAX];
    char field[VAULT_NAME_MAX];
    char subj_jur[96], rec_jur[96], record[VAULT_ID_HEX_SIZE];
    vp_subject subject;
    vp_request r;
} req;

/* What the generator remembers of a rule, to aim requests at it. */
typedef struct gen_rule {
    int role, dept, user;  /* -1 when the subject doesn't name it */
    int action;            /* one of its actions */
    int purpose;           /* one of its purposes, -1 when any */
    int field;             /* a field it selects */
} gen_rule;

typedef struct world {
    uint64_t rng;
    char records[GEN_RECORDS][VAULT_ID_HEX_SIZE];
    gen_rule rules[GEN_RULES];
    vp_grant grants[GEN_GRANTS];
    /* Storage the grants point into. */
    char gid[GEN_GRANTS][16], guser[GEN_GRANTS][16], grole[GEN_GRANTS][8], gdept[GEN_GRANTS][8];
    char gjur[GEN_GRANTS][96];
    const char *gfields[GEN_GRANTS][4], *grecords[GEN_GRANTS][3], *gpurposes[GEN_GRANTS][2];
    char names[GEN_FIELDS + GEN_PURPOSES][8];
} world;

static unsigned pick(uint64_t *rng, unsigned n)
{
    return (unsigned)(bench_rand(rng) % n);
}

/* hz/dist-D/street-S/comm-C/grid-G cut to `depth` segments (1..5). */
static void jur_path(char *out, size_t cap, unsigned code, int depth)
{
    unsigned d = code % 4, s = code / 4 % 4, c = code / 16 % 4, g = code / 64 % 8;
    int n = snprintf(out, cap, "hz");

    if (depth > 1)
        n += snprintf(out + n, cap - (size_t)n, "/dist-%u", d);
    if (depth > 2)
        n += snprintf(out + n, cap - (size_t)n, "/street-%u", s);
    if (depth > 3)
        n += snprintf(out + n, cap - (size_t)n, "/comm-%u", c);
    if (depth > 4)
        snprintf(out + n, cap - (size_t)n, "/grid-%02u", g);
}

/* ---- the generated policy ---- */

static void gen_fields_list(FILE *f, world *w, gen_rule *gr)
{
    unsigned n = 1 + pick(&w->rng, 8), i, x;

    fputs("    fields: [", f);
    for (i = 0; i < n; i++) {
        x = pick(&w->rng, GEN_FIELDS);
        if (i == 0)
            gr->field = (int)x;
        fprintf(f, "%sf%02u", i ? ", " : "", x);
    }
    fputs("]\n", f);
}

static void gen_rule_text(FILE *f, world *w, unsigned i)
{
    gen_rule *gr = &w->rules[i];
    unsigned k = pick(&w->rng, 100), a, np, j, g1, g2;
    static const char *const effects[] = {"allow", "mask", "deny"};
    unsigned e = pick(&w->rng, 100);

    gr->role = gr->dept = gr->user = gr->purpose = -1;
    fprintf(f, "  - id: rule-%04u\n", i);
    if (k < 5) { /* record-level: create, no selector */
        gr->role = (int)pick(&w->rng, GEN_ROLES);
        gr->dept = (int)pick(&w->rng, GEN_DEPTS);
        fprintf(f, "    subjects: {role: r%02d, department: d%02d}\n    actions: [create]\n"
                   "    scope: within\n    effect: allow\n", gr->role, gr->dept);
        gr->action = VAULT_ACTION_CREATE;
        gr->field = -1;
        return;
    }
    if (k < 60) {
        gr->role = (int)pick(&w->rng, GEN_ROLES);
        gr->dept = (int)pick(&w->rng, GEN_DEPTS);
        fprintf(f, "    subjects: {role: r%02d, department: d%02d}\n", gr->role, gr->dept);
    } else if (k < 75) {
        gr->role = (int)pick(&w->rng, GEN_ROLES);
        fprintf(f, "    subjects: {role: r%02d}\n", gr->role);
    } else if (k < 90) {
        gr->dept = (int)pick(&w->rng, GEN_DEPTS);
        fprintf(f, "    subjects: {department: d%02d}\n", gr->dept);
    } else if (k < 95) {
        gr->role = (int)pick(&w->rng, GEN_ROLES);
        fprintf(f, "    subjects: [{role: r%02d}, {department: d%02u}]\n", gr->role,
                pick(&w->rng, GEN_DEPTS));
    } else {
        gr->user = (int)pick(&w->rng, GEN_USERS);
        fprintf(f, "    subjects: {user: u%04d}\n", gr->user);
    }
    a = pick(&w->rng, NACTIONS);
    gr->action = field_actions[a];
    fprintf(f, "    actions: [%s%s]\n", action_names[gr->action],
            gr->action == VAULT_ACTION_READ && pick(&w->rng, 2) ? ", search" : "");
    np = pick(&w->rng, 4); /* 0: any purpose */
    if (np) {
        fputs("    purposes: [", f);
        for (j = 0; j < np; j++) {
            unsigned p = pick(&w->rng, GEN_PURPOSES);
            if (j == 0)
                gr->purpose = (int)p;
            fprintf(f, "%sp%02u", j ? ", " : "", p);
        }
        fputs("]\n", f);
    }
    fprintf(f, "    scope: %s\n", pick(&w->rng, 10) < 7 ? "within" : "any");
    if (pick(&w->rng, 10) < 6) {
        gen_fields_list(f, w, gr);
    } else {
        g1 = pick(&w->rng, GEN_GRADES);
        g2 = g1 + pick(&w->rng, GEN_GRADES - g1);
        fprintf(f, "    grades: {min: g%u, max: g%u}\n", g1, g2);
        /* field fNN has grade NN % 5: pick one inside the range */
        gr->field = (int)(pick(&w->rng, GEN_FIELDS / GEN_GRADES) * GEN_GRADES + g1);
    }
    fprintf(f, "    effect: %s\n", effects[e < 55 ? 0 : e < 90 ? 1 : 2]);
}

static char *gen_policy_text(world *w, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    unsigned i;

    if (!f)
        bench_die("open_memstream failed");
    fputs("version: 1\nname: bench-generated\ngrades: [g0, g1, g2, g3, g4]\nfields:\n", f);
    for (i = 0; i < GEN_FIELDS; i++)
        fprintf(f, "  f%02u: {grade: g%u, mask: redact}\n", i, i % GEN_GRADES);
    fputs("departments: [", f);
    for (i = 0; i < GEN_DEPTS; i++)
        fprintf(f, "%sd%02u", i ? ", " : "", i);
    fputs("]\nroles: [", f);
    for (i = 0; i < GEN_ROLES; i++)
        fprintf(f, "%sr%02u", i ? ", " : "", i);
    fputs("]\npurposes: [", f);
    for (i = 0; i < GEN_PURPOSES; i++)
        fprintf(f, "%sp%02u", i ? ", " : "", i);
    fputs("]\nrules:\n", f);
    for (i = 0; i < GEN_RULES; i++)
        gen_rule_text(f, w, i);
    if (fclose(f) != 0)
        bench_die("writing the generated policy failed");
    return text;
}

static void gen_grants(world *w, int64_t now)
{
    unsigned i, j, k, n;

    for (i = 0; i < GEN_FIELDS; i++)
        snprintf(w->names[i], sizeof w->names[i], "f%02u", i);
    for (i = 0; i < GEN_PURPOSES; i++)
        snprintf(w->names[GEN_FIELDS + i], sizeof w->names[0], "p%02u", i);
    for (i = 0; i < GEN_GRANTS; i++) {
        vp_grant *g = &w->grants[i];

        memset(g, 0, sizeof *g);
        snprintf(w->gid[i], sizeof w->gid[i], "g-%05u", i);
        g->id = w->gid[i];
        k = pick(&w->rng, 10);
        snprintf(w->guser[i], sizeof w->guser[i], "u%04u", pick(&w->rng, GEN_USERS));
        snprintf(w->grole[i], sizeof w->grole[i], "r%02u", pick(&w->rng, GEN_ROLES));
        snprintf(w->gdept[i], sizeof w->gdept[i], "d%02u", pick(&w->rng, GEN_DEPTS));
        if (k < 4)
            g->user = w->guser[i];
        else if (k < 7)
            g->role = w->grole[i];
        else if (k < 9) {
            g->role = w->grole[i];
            g->department = w->gdept[i];
        } else
            g->department = w->gdept[i];
        g->effect = pick(&w->rng, 2) ? VAULT_EFFECT_ALLOW : VAULT_EFFECT_MASK;
        g->actions = 1u << VAULT_ACTION_READ;
        if (pick(&w->rng, 4) == 0)
            g->actions |= 1u << VAULT_ACTION_SEARCH;
        if (pick(&w->rng, 10) < 7) {
            n = 1 + pick(&w->rng, 4);
            for (j = 0; j < n; j++)
                w->gfields[i][j] = w->names[pick(&w->rng, GEN_FIELDS)];
            g->fields = w->gfields[i];
            g->nfields = n;
        } else {
            g->grade_min = (int)pick(&w->rng, GEN_GRADES);
            g->grade_max = g->grade_min + (int)pick(&w->rng, (unsigned)(GEN_GRADES - g->grade_min));
        }
        if (pick(&w->rng, 10) < 3) {
            n = 1 + pick(&w->rng, 3);
            for (j = 0; j < n; j++)
                w->grecords[i][j] = w->records[pick(&w->rng, GEN_RECORDS)];
            g->records = w->grecords[i];
            g->nrecords = n;
        } else {
            jur_path(w->gjur[i], sizeof w->gjur[i], pick(&w->rng, 512), 3 + (int)pick(&w->rng, 3));
            g->jurisdiction = w->gjur[i];
        }
        n = pick(&w->rng, 3);
        for (j = 0; j < n; j++)
            w->gpurposes[i][j] = w->names[GEN_FIELDS + pick(&w->rng, GEN_PURPOSES)];
        g->purposes = n ? w->gpurposes[i] : NULL;
        g->npurposes = n;
        /* Live: started an hour ago, ends within 30 days. */
        g->not_before = now - 3600;
        g->not_after = now + 3600 + (int64_t)pick(&w->rng, 30 * 86400);
    }
}

/* ---- requests ---- */

static void req_finish(req *q, int64_t now)
{
    q->subject.user = q->user;
    q->subject.role = q->role;
    q->subject.department = q->dept;
    q->subject.jurisdiction = q->subj_jur;
    q->r.subject = &q->subject;
    q->r.purpose = q->purpose;
    q->r.record_id = q->record;
    q->r.record_jurisdiction = q->rec_jur;
    q->r.field = q->r.action == VAULT_ACTION_CREATE ? NULL : q->field;
    q->r.now = now;
}

/* Subject jurisdiction: usually an ancestor of the record's (so `within`
 * rules can match), sometimes elsewhere. */
static void req_place(req *q, uint64_t *rng)
{
    unsigned code = pick(rng, 512);

    jur_path(q->rec_jur, sizeof q->rec_jur, code, 5);
    if (pick(rng, 10) < 8)
        jur_path(q->subj_jur, sizeof q->subj_jur, code, 2 + (int)pick(rng, 4));
    else
        jur_path(q->subj_jur, sizeof q->subj_jur, pick(rng, 512), 2 + (int)pick(rng, 4));
}

static void gen_requests(req *reqs, world *w, int64_t now)
{
    size_t i;

    for (i = 0; i < NREQ; i++) {
        req *q = &reqs[i];
        unsigned kind = pick(&w->rng, 4);

        memset(q, 0, sizeof *q);
        snprintf(q->user, sizeof q->user, "u%04u", pick(&w->rng, GEN_USERS));
        snprintf(q->role, sizeof q->role, "r%02u", pick(&w->rng, GEN_ROLES));
        snprintf(q->dept, sizeof q->dept, "d%02u", pick(&w->rng, GEN_DEPTS));
        snprintf(q->purpose, sizeof q->purpose, "p%02u", pick(&w->rng, GEN_PURPOSES));
        snprintf(q->field, sizeof q->field, "f%02u", pick(&w->rng, GEN_FIELDS));
        snprintf(q->record, sizeof q->record, "%s", w->records[pick(&w->rng, GEN_RECORDS)]);
        q->r.action = field_actions[pick(&w->rng, NACTIONS)];
        req_place(q, &w->rng);
        if (kind < 2) {
            const gen_rule *gr = &w->rules[pick(&w->rng, GEN_RULES)];
            if (gr->role >= 0)
                snprintf(q->role, sizeof q->role, "r%02d", gr->role);
            if (gr->dept >= 0)
                snprintf(q->dept, sizeof q->dept, "d%02d", gr->dept);
            if (gr->user >= 0)
                snprintf(q->user, sizeof q->user, "u%04d", gr->user);
            if (gr->purpose >= 0)
                snprintf(q->purpose, sizeof q->purpose, "p%02d", gr->purpose);
            if (gr->field >= 0)
                snprintf(q->field, sizeof q->field, "f%02d", gr->field);
            q->r.action = gr->action;
        } else if (kind == 2) {
            const vp_grant *g = &w->grants[pick(&w->rng, GEN_GRANTS)];
            if (g->user)
                snprintf(q->user, sizeof q->user, "%s", g->user);
            if (g->role)
                snprintf(q->role, sizeof q->role, "%s", g->role);
            if (g->department)
                snprintf(q->dept, sizeof q->dept, "%s", g->department);
            if (g->npurposes)
                snprintf(q->purpose, sizeof q->purpose, "%s", g->purposes[0]);
            if (g->nfields)
                snprintf(q->field, sizeof q->field, "%s", g->fields[0]);
            if (g->nrecords)
                snprintf(q->record, sizeof q->record, "%s", g->records[0]);
            else
                snprintf(q->rec_jur, sizeof q->rec_jur, "%s/grid-0%u", g->jurisdiction,
                         pick(&w->rng, 8));
            q->r.action = VAULT_ACTION_READ;
        }
        req_finish(q, now);
    }
}

/* The purpose each role of policies/community.yaml works under, so most
 * default-policy requests are ones the policy was written for; other
 * policies (--policy) get random purposes. */
static const char *const usual_purpose[][2] = {
    {"grid_worker", "grid_management"},         {"community_staff", "resident_service"},
    {"street_officer", "resident_service"},     {"data_officer", "resident_service"},
    {"hotline_agent", "hotline_followup"},      {"civil_affairs_officer", "social_assistance"},
    {"police_officer", "law_enforcement"},      {"health_worker", "public_health"},
    {"judicial_officer", "community_correction"}, {"auditor", "audit"},
};

static const char *purpose_for(const vault_policy *p, const char *role, uint64_t *rng)
{
    size_t i;

    if (pick(rng, 4) == 0)
        return NULL;
    for (i = 0; i < VAULT_ARRAY_LEN(usual_purpose); i++)
        if (strcmp(usual_purpose[i][0], role) == 0 && policy_has_purpose(p, usual_purpose[i][1]))
            return usual_purpose[i][1];
    return NULL;
}

/* Requests for the default policy, from the names it declares. */
static void default_requests(req *reqs, const vault_policy *p, uint64_t *rng, int64_t now)
{
    static const char *const communities[] = {"changzheng", "hushu"};
    size_t i, nr = policy_role_count(p), nd = policy_department_count(p), d, tries;
    size_t nf = policy_field_count(p), np = policy_purpose_count(p);
    const char *role, *dept = NULL, *usual;

    for (i = 0; i < NREQ; i++) {
        req *q = &reqs[i];
        unsigned c = pick(rng, 2), g = 1 + pick(rng, 8), depth;

        memset(q, 0, sizeof *q);
        snprintf(q->user, sizeof q->user, "u%04u", pick(rng, GEN_USERS));
        role = policy_role_name(p, pick(rng, (unsigned)nr));
        /* a department the role exists in */
        for (tries = 0, d = pick(rng, (unsigned)nd); tries < nd; tries++, d = (d + 1) % nd) {
            dept = policy_department_name(p, d);
            if (policy_role_in_department(p, role, dept))
                break;
        }
        snprintf(q->role, sizeof q->role, "%s", role);
        snprintf(q->dept, sizeof q->dept, "%s", dept);
        usual = purpose_for(p, role, rng);
        snprintf(q->purpose, sizeof q->purpose, "%s",
                 usual ? usual : policy_purpose_name(p, pick(rng, (unsigned)np)));
        snprintf(q->field, sizeof q->field, "%s", policy_field_at(p, pick(rng, (unsigned)nf))->name);
        snprintf(q->rec_jur, sizeof q->rec_jur, "hangzhou/gongshu/xiaohe/%s/grid-%02u",
                 communities[c], g);
        depth = 3 + pick(rng, 3);
        if (depth == 3)
            snprintf(q->subj_jur, sizeof q->subj_jur, "hangzhou/gongshu/xiaohe");
        else if (depth == 4)
            snprintf(q->subj_jur, sizeof q->subj_jur, "hangzhou/gongshu/xiaohe/%s",
                     communities[pick(rng, 2)]);
        else
            snprintf(q->subj_jur, sizeof q->subj_jur, "hangzhou/gongshu/xiaohe/%s/grid-%02u",
                     communities[c], 1 + pick(rng, 8));
        for (depth = 0; depth < 32; depth++)
            q->record[depth] = "0123456789abcdef"[pick(rng, 16)];
        q->r.action = pick(rng, 10) < 7 ? VAULT_ACTION_READ : field_actions[pick(rng, NACTIONS)];
        req_finish(q, now);
    }
}

/* ---- timing ---- */

static json_t *run_decisions(const vault_policy *p, const vp_grantset *g, req *reqs,
                             const bench_cfg *cfg, const char *name)
{
    size_t n = cfg->decisions, i, counts[3] = {0, 0, 0}, by[4] = {0, 0, 0, 0};
    uint64_t *s = malloc(n * sizeof *s), t0, t1, batch_ns;
    vp_decision d;
    json_t *o = json_object(), *mix = json_object();
    uint64_t p50, p99, p999, max;
    double mean = 0;

    if (!s)
        bench_die("out of memory");
    for (i = 0; i < NREQ * 4; i++) /* warm up caches and branch predictors */
        (void)policy_decide(&d, p, g, &reqs[i % NREQ].r);
    /* Back to back, for the mean without clock reads in between. */
    t0 = bench_now_ns();
    for (i = 0; i < n; i++)
        (void)policy_decide(&d, p, g, &reqs[i % NREQ].r);
    batch_ns = bench_now_ns() - t0;
    for (i = 0; i < n; i++) {
        const vp_request *r = &reqs[i % NREQ].r;
        t0 = bench_now_ns();
        (void)policy_decide(&d, p, g, r);
        t1 = bench_now_ns();
        s[i] = t1 - t0;
        mean += (double)s[i];
        counts[d.effect]++;
        by[d.by]++;
    }
    mean /= (double)n;
    max = bench_percentile(s, n, 100);
    p50 = bench_percentile(s, n, 50);
    p99 = bench_percentile(s, n, 99);
    p999 = bench_percentile(s, n, 99.9);
    bench_set(o, "rules", json_integer((json_int_t)policy_rule_count(p)));
    bench_set(o, "decisions", json_integer((json_int_t)n));
    bench_set(o, "p50_ns", json_integer((json_int_t)p50));
    bench_set(o, "p99_ns", json_integer((json_int_t)p99));
    bench_set(o, "p999_ns", json_integer((json_int_t)p999));
    bench_set(o, "max_ns", json_integer((json_int_t)max));
    bench_set(o, "mean_ns", bench_real(mean, 1));
    bench_set(o, "mean_back_to_back_ns", bench_real((double)batch_ns / (double)n, 1));
    bench_set(o, "target_p50_ns", json_integer(1000));
    bench_set(o, "target_p99_ns", json_integer(5000));
    bench_set(o, "p50_vs_target", bench_real((double)p50 / 1000.0, 3));
    bench_set(o, "p99_vs_target", bench_real((double)p99 / 5000.0, 3));
    bench_set(o, "met", json_boolean(p50 <= 1000 && p99 <= 5000));
    bench_set(mix, "allow", json_integer((json_int_t)counts[VAULT_EFFECT_ALLOW]));
    bench_set(mix, "mask", json_integer((json_int_t)counts[VAULT_EFFECT_MASK]));
    bench_set(mix, "deny", json_integer((json_int_t)counts[VAULT_EFFECT_DENY]));
    bench_set(mix, "by_rule", json_integer((json_int_t)by[VP_BY_RULE]));
    bench_set(mix, "by_grant", json_integer((json_int_t)by[VP_BY_GRANT]));
    bench_set(mix, "by_default", json_integer((json_int_t)by[VP_BY_DEFAULT]));
    bench_set(mix, "by_error", json_integer((json_int_t)by[VP_BY_ERROR]));
    bench_set(o, "outcomes", mix);
    bench_note("%s: p50 %llu ns, p99 %llu ns (allow %zu mask %zu deny %zu, errors %zu)", name,
               (unsigned long long)p50, (unsigned long long)p99, counts[2], counts[1], counts[0],
               by[VP_BY_ERROR]);
    free(s);
    return o;
}

static uint64_t timer_overhead(void)
{
    uint64_t s[10000], t0;
    size_t i;

    for (i = 0; i < 10000; i++) {
        t0 = bench_now_ns();
        s[i] = bench_now_ns() - t0;
    }
    return bench_percentile(s, 10000, 50);
}

void bench_policy(json_t *out, const bench_cfg *cfg)
{
    json_t *o = json_object(), *dflt, *gen;
    vault_policy *p = NULL, *gp = NULL;
    vp_grantset *g0 = NULL, *gg = NULL;
    world *w = calloc(1, sizeof *w);
    req *reqs = calloc(NREQ, sizeof *reqs);
    char *report = NULL, *text = NULL;
    size_t len = 0, i, j;
    int64_t now = (int64_t)time(NULL);
    uint64_t t0, parse_ns, index_ns;

    if (!w || !reqs)
        bench_die("out of memory");
    w->rng = 0x9E3779B97F4A7C15ull;
    bench_check(policy_load_file(&p, &report, NULL, NULL, cfg->policy), cfg->policy);
    free(report);
    bench_check(policy_grantset_new(&g0, p, NULL, 0), "empty grant set");
    default_requests(reqs, p, &w->rng, now);
    dflt = run_decisions(p, g0, reqs, cfg, "policy default");
    bench_set(dflt, "grants", json_integer(0));
    bench_set(o, "default_policy", dflt);

    for (i = 0; i < GEN_RECORDS; i++)
        for (j = 0; j < 32; j++)
            w->records[i][j] = "0123456789abcdef"[pick(&w->rng, 16)];
    text = gen_policy_text(w, &len);
    t0 = bench_now_ns();
    bench_check(policy_parse(&gp, &report, "generated.yaml", text, len), "generated policy");
    parse_ns = bench_now_ns() - t0;
    free(report);
    gen_grants(w, now);
    t0 = bench_now_ns();
    bench_check(policy_grantset_new(&gg, gp, w->grants, GEN_GRANTS), "generated grants");
    index_ns = bench_now_ns() - t0;
    gen_requests(reqs, w, now);
    gen = run_decisions(gp, gg, reqs, cfg, "policy 1k rules + 10k grants");
    bench_set(gen, "grants", json_integer(GEN_GRANTS));
    bench_set(gen, "policy_bytes", json_integer((json_int_t)len));
    bench_set(gen, "parse_ms", bench_real((double)parse_ns / 1e6, 2));
    bench_set(gen, "grantset_build_ms", bench_real((double)index_ns / 1e6, 2));
    bench_set(o, "generated_1k_rules_10k_grants", gen);
    bench_set(o, "timer_overhead_ns", json_integer((json_int_t)timer_overhead()));
    bench_set(out, "policy_decision", o);

    policy_grantset_free(gg);
    policy_grantset_free(g0);
    policy_free(gp);
    policy_free(p);
    free(text);
    free(reqs);
    free(w);
}
