/* policy_witness: the `witnesses:` and `witness_quorum:` sections (the
 * witnesses whose cosignatures the vault's checkpoints must carry,
 * docs/policy-format.md "Witnesses"), their accessors and their part of
 * policy_diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_cosign.h"
#include "policy_int.h"

#define VP_WITNESSES_MAX 32   /* witnesses one policy may pin */
#define VP_WITNESS_URL_MAX 1023

/* An http:// or https:// URL of printable ASCII without spaces. */
static int url_ok(const char *s, size_t len)
{
    size_t i;

    if (len > VP_WITNESS_URL_MAX)
        return 0;
    if (!((len > 7 && strncmp(s, "http://", 7) == 0) || (len > 8 && strncmp(s, "https://", 8) == 0)))
        return 0;
    for (i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    {
        /* No user:password@ in the authority: the URL is shown in policy
         * diffs and so in the audit log. */
        const char *auth = strstr(s, "://") + 3, *slash = memchr(auth, '/', len - (size_t)(auth - s));
        size_t alen = slash ? (size_t)(slash - auth) : len - (size_t)(auth - s);
        if (memchr(auth, '@', alen))
            return 0;
    }
    return 1;
}

static void parse_one(pctx *c, const vnode *item, vp_witness *w, int *ok)
{
    static const vp_keydef defs[] = {{"key", 1}, {"url", 0}};
    vault_policy *p = c->p;
    const vnode *v[2];
    char name[256];

    *ok = 0;
    if (!vp_map_keys(c, item, "a witness", defs, 2, v))
        return;
    w->line = item->line;
    w->col = item->col;
    if (v[0] == NULL || !vp_want(c, v[0], VN_SCALAR, "witness key"))
        return;
    if (af_vkey_parse(name, w->pk, v[0]->s, v[0]->len, AF_SIGTYPE_COSIGN_V1) != VAULT_OK) {
        vault__err_clear();
        vp_diag_n(c, VP_ERR, v[0], "witness key is not a witness verifier key "
                  "(name+keyid+base64 of 0x04 and an Ed25519 key, as `vaultctl witness pubkey` "
                  "prints it)");
        return;
    }
    w->vkey = vp_strndup(&p->arena, v[0]->s, v[0]->len);
    w->name = vp_strndup(&p->arena, name, strlen(name));
    if (w->vkey == NULL || w->name == NULL) {
        c->oom = 1;
        return;
    }
    if (v[1] != NULL) {
        if (!vp_want(c, v[1], VN_SCALAR, "witness url"))
            return;
        if (!url_ok(v[1]->s, v[1]->len)) {
            vp_diag_n(c, VP_ERR, v[1], "witness url must be http:// or https://, at most %d "
                      "printable characters without spaces, and name no user or password",
                      VP_WITNESS_URL_MAX);
            return;
        }
        w->url = vp_strndup(&p->arena, v[1]->s, v[1]->len);
        if (w->url == NULL) {
            c->oom = 1;
            return;
        }
    }
    *ok = 1;
}

int vp_parse_witnesses(pctx *c, const vnode *list, const vnode *quorum)
{
    int rc = VAULT_OK;
    vault_policy *p = c->p;
    size_t count = 0, k = 0;
    vp_witness *out = NULL;

    if (list != NULL) {
        if (list->type != VN_SEQ) {
            if (!list->bad)
                vp_diag_n(c, VP_ERR, list, "witnesses must be a list of {key, url}, not %s",
                          vp_node_kind(list));
        } else if (list->n > VP_WITNESSES_MAX) {
            vp_diag_n(c, VP_ERR, list, "witnesses: too many, at most %d", VP_WITNESSES_MAX);
            c->limit = 1;
        } else {
            count = list->n;
        }
    }
    if (count > 0) {
        out = vp_alloc(&p->arena, count * sizeof *out);
        ENSURE(out != NULL, VAULT_ENOMEM, "policy: out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        const vnode *item = list->kids[i];
        int ok, dup = 0;

        parse_one(c, item, &out[k], &ok);
        if (!ok)
            continue;
        for (size_t j = 0; j < k && !dup; j++) {
            if (strcmp(out[j].name, out[k].name) == 0) {
                vp_diag_n(c, VP_ERR, item, "witness %s is listed twice (first at line %u)",
                          out[k].name, out[j].line);
                dup = 1;
            } else if (memcmp(out[j].pk, out[k].pk, 32) == 0) { /* memcmp ok: not secret */
                vp_diag_n(c, VP_ERR, item, "witness %s has the key of witness %s (line %u)",
                          out[k].name, out[j].name, out[j].line);
                dup = 1;
            }
        }
        if (!dup)
            k++;
    }
    p->witnesses = out;
    p->nwitnesses = k;
    p->witness_quorum = k;
    if (quorum != NULL) {
        p->witness_quorum_line = quorum->line;
        if (count == 0 && (list == NULL || list->type == VN_SEQ)) {
            vp_diag_n(c, VP_ERR, quorum, "witness_quorum without witnesses: list the witnesses "
                      "it counts");
        } else if (vp_want(c, quorum, VN_SCALAR, "witness_quorum")) {
            size_t q = 0, i;

            for (i = 0; i < quorum->len && i < 4 && quorum->s[i] >= '0' && quorum->s[i] <= '9'; i++)
                q = q * 10 + (size_t)(quorum->s[i] - '0');
            if (quorum->len == 0 || i != quorum->len)
                vp_diag_n(c, VP_ERR, quorum, "witness_quorum must be a whole number from 1 to the "
                          "number of witnesses (%zu)", count);
            else if (q == 0)
                vp_diag_n(c, VP_ERR, quorum, "witness_quorum is 0: a quorum needs at least one "
                          "cosignature (leave witnesses out to require none)");
            else if (q > count)
                vp_diag_n(c, VP_ERR, quorum, "witness_quorum %zu is more than the %zu witnesses "
                          "listed", q, count);
            else
                p->witness_quorum = q;
        }
    }
    ENSURE(!c->oom, VAULT_ENOMEM, "policy: out of memory");
cleanup:
    return rc;
}

size_t policy_witness_count(const vault_policy *p)
{
    return p ? p->nwitnesses : 0;
}

const vp_witness *policy_witness_at(const vault_policy *p, size_t i)
{
    return p && i < p->nwitnesses ? &p->witnesses[i] : NULL;
}

const vp_witness *policy_witness_find(const vault_policy *p, const char *vkey)
{
    char name[256];
    uint8_t pk[32];

    if (p == NULL || vkey == NULL)
        return NULL;
    if (af_vkey_parse(name, pk, vkey, strlen(vkey), AF_SIGTYPE_COSIGN_V1) != VAULT_OK) {
        vault__err_clear();
        return NULL;
    }
    for (size_t i = 0; i < p->nwitnesses; i++)
        if (strcmp(p->witnesses[i].name, name) == 0 &&
            memcmp(p->witnesses[i].pk, pk, 32) == 0) /* memcmp ok: not secret */
            return &p->witnesses[i];
    return NULL;
}

size_t policy_witness_quorum(const vault_policy *p)
{
    return p ? p->witness_quorum : 0;
}

static const vp_witness *same_witness(const vault_policy *p, const vp_witness *w)
{
    for (size_t i = 0; p && i < p->nwitnesses; i++)
        if (strcmp(p->witnesses[i].name, w->name) == 0 &&
            memcmp(p->witnesses[i].pk, w->pk, 32) == 0) /* memcmp ok: not secret */
            return &p->witnesses[i];
    return NULL;
}

void vp_witnesses_diff(vault_buf *b, const vault_policy *old_p, const vault_policy *new_p)
{
    for (size_t i = 0; i < new_p->nwitnesses; i++) {
        const vp_witness *w = &new_p->witnesses[i], *o = same_witness(old_p, w);

        if (o == NULL)
            vault__buf_printf(b, "+ witness %s\n", w->vkey);
        else if ((o->url == NULL) != (w->url == NULL) ||
                 (o->url && strcmp(o->url, w->url) != 0))
            vault__buf_printf(b, "~ witness %s url %s->%s\n", w->name, o->url ? o->url : "none",
                          w->url ? w->url : "none");
    }
    for (size_t i = 0; i < old_p->nwitnesses; i++)
        if (same_witness(new_p, &old_p->witnesses[i]) == NULL)
            vault__buf_printf(b, "- witness %s\n", old_p->witnesses[i].vkey);
    if (old_p->witness_quorum != new_p->witness_quorum)
        vault__buf_printf(b, "~ witness_quorum %zu->%zu\n", old_p->witness_quorum,
                      new_p->witness_quorum);
}
