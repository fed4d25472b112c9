/* witness_client: one add-checkpoint request (C2SP tlog-witness) over
 * libcurl, its answer checked: docs/witness.md "Submitting a checkpoint". */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "audit_cosign.h"
#include "audit_format.h"
#include "crypto.h"
#include "witness_client.h"

#define B64_HASH 44        /* base64 of 32 bytes, padded */
#define TIMEOUT_DEFAULT_MS 10000L
#define QUOTE_MAX 160      /* bytes of a witness's answer quoted in an error */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int witness_peer_parse(witness_peer *out, const char *vkey, size_t len)
{
    int rc = VAULT_OK;

    ENSURE(out && vkey, VAULT_EINVALID, "witness key: missing argument");
    GUARD(af_vkey_parse(out->name, out->pk, vkey, len, AF_SIGTYPE_COSIGN_V1));
cleanup:
    return rc;
}

typedef struct reply_buf {
    char data[WITNESS_REPLY_MAX + 1];
    size_t len;
    int over;
} reply_buf;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    reply_buf *b = arg;
    size_t len = size * n;

    if (len > WITNESS_REPLY_MAX - b->len) {
        b->over = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

/* The first line of the answer, printable ASCII only, for an error. */
static void quote(char out[QUOTE_MAX + 1], const reply_buf *b)
{
    size_t i, k = 0;

    for (i = 0; i < b->len && b->data[i] != '\n' && k < QUOTE_MAX; i++)
        out[k++] = (b->data[i] >= 0x20 && b->data[i] < 0x7f) ? b->data[i] : '?';
    out[k] = '\0';
}

/* "old N\n" | proof lines | "\n" | note */
static int build_body(char **out, size_t *out_len, uint64_t old_size, const uint8_t (*proof)[32],
                      size_t nproof, const char *note, size_t note_len)
{
    int rc = VAULT_OK;
    size_t cap = 32 + nproof * (B64_HASH + 1) + 1 + note_len, i;
    char *b = malloc(cap), *p;

    ENSURE(b, VAULT_ENOMEM, "out of memory building a witness request");
    p = b + snprintf(b, cap, "old %" PRIu64 "\n", old_size);
    for (i = 0; i < nproof; i++) {
        GUARD(vc_bin2b64(p, (size_t)(b + cap - p), proof[i], 32));
        p += B64_HASH;
        *p++ = '\n';
    }
    *p++ = '\n';
    memcpy(p, note, note_len);
    *out_len = (size_t)(p - b) + note_len;
    *out = b;
    b = NULL;
cleanup:
    free(b);
    return rc;
}

/* The first line of the answer that verifies as wp's cosignature. */
static int pick_line(char **out, const reply_buf *b, const witness_peer *wp, const char *note,
                     size_t note_len)
{
    int rc = VAULT_OK;
    char *both = malloc(note_len + WITNESS_REPLY_MAX + 1);
    const char *p = b->data, *end = b->data + b->len, *nl;
    size_t llen;

    ENSURE(both, VAULT_ENOMEM, "out of memory checking a cosignature");
    memcpy(both, note, note_len);
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        ENSURE(nl, VAULT_EINTEGRITY, "witness %s: its answer does not end with a newline",
               wp->name);
        llen = (size_t)(nl - p) + 1;
        memcpy(both + note_len, p, llen);
        if (af_cosignature_verify(NULL, both, note_len + llen, wp->name, wp->pk) == VAULT_OK) {
            *out = strndup(p, llen);
            ENSURE(*out, VAULT_ENOMEM, "out of memory copying a cosignature");
            goto cleanup;
        }
    }
    rc = vault__err(VAULT_EINTEGRITY, "witness %s: its answer holds no valid cosignature by its key",
                    wp->name);
cleanup:
    free(both);
    return rc;
}

/* The 409 body: the witness's size, decimal, then a newline. */
static int parse_size(uint64_t *out, const reply_buf *b)
{
    uint64_t v = 0;
    size_t i;

    if (b->len < 2 || b->len > 21 || b->data[b->len - 1] != '\n' ||
        (b->data[0] == '0' && b->len > 2))
        return 0;
    for (i = 0; i + 1 < b->len; i++) {
        unsigned d = (unsigned)(b->data[i] - '0');
        if (b->data[i] < '0' || b->data[i] > '9' || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int witness_submit(char **out_line, uint64_t *out_size, const char *url, const witness_peer *wp,
                   uint64_t old_size, const uint8_t (*proof)[32], size_t nproof, const char *note,
                   size_t note_len, long timeout_ms)
{
    int rc = VAULT_OK;
    char full[WITNESS_URL_MAX + 32], errbuf[CURL_ERROR_SIZE] = "", said[QUOTE_MAX + 1];
    char *body = NULL;
    size_t body_len = 0, ulen;
    struct curl_slist *hdr = NULL;
    reply_buf *b = NULL;
    CURL *h = NULL;
    CURLcode cc;
    long status = 0;
    uint64_t size = 0;

    ENSURE(out_line && url && wp && note && (proof || nproof == 0), VAULT_EINVALID,
           "witness_submit: missing argument");
    *out_line = NULL;
    if (out_size)
        *out_size = 0;
    ENSURE(nproof <= WITNESS_PROOF_MAX, VAULT_EINVALID,
           "witness %s: %zu proof hashes, at most %d", wp->name, nproof, WITNESS_PROOF_MAX);
    ENSURE(old_size > 0 || nproof == 0, VAULT_EINVALID,
           "witness %s: a proof from size 0 must be empty", wp->name);
    ENSURE(note_len <= AF_NOTE_MAX, VAULT_EINVALID, "witness %s: the note is over %d bytes",
           wp->name, AF_NOTE_MAX);
    ulen = strlen(url);
    while (ulen && url[ulen - 1] == '/')
        ulen--;
    ENSURE(ulen < WITNESS_URL_MAX && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0),
           VAULT_EINVALID, "witness %s: the URL must be http:// or https://, under %d bytes",
           wp->name, WITNESS_URL_MAX);
    snprintf(full, sizeof full, "%.*s/add-checkpoint", (int)ulen, url);
    GUARD(build_body(&body, &body_len, old_size, proof, nproof, note, note_len));
    b = calloc(1, sizeof *b);
    ENSURE(b, VAULT_ENOMEM, "out of memory for a witness answer");
    pthread_once(&curl_once, curl_setup);
    ENSURE(curl_ok && (h = curl_easy_init()), VAULT_ERROR, "witness: libcurl did not start");
    hdr = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    ENSURE(hdr, VAULT_ENOMEM, "out of memory for request headers");
    if (timeout_ms <= 0)
        timeout_ms = TIMEOUT_DEFAULT_MS;
    cc = curl_easy_setopt(h, CURLOPT_URL, full);
    cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    cc |= curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    cc |= curl_easy_setopt(h, CURLOPT_POST, 1L);
    cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    cc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    cc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    cc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    ENSURE(cc == CURLE_OK, VAULT_ERROR, "witness: libcurl refused an option");
    cc = curl_easy_perform(h);
    ENSURE(!b->over, VAULT_EIO, "witness %s: answer over %d bytes", wp->name, WITNESS_REPLY_MAX);
    ENSURE(cc == CURLE_OK, VAULT_EIO, "witness %s: %s", wp->name,
           errbuf[0] ? errbuf : curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    quote(said, b);
    switch (status) {
    case 200:
        GUARD(pick_line(out_line, b, wp, note, note_len));
        break;
    case 409:
        ENSURE(parse_size(&size, b), VAULT_EIO, "witness %s: 409 without a tree size: %s",
               wp->name, said);
        if (out_size)
            *out_size = size;
        ENSURE(size != old_size, VAULT_EINTEGRITY,
               "witness %s holds another root for size %" PRIu64 " (a split view)", wp->name,
               size);
        rc = vault__err(VAULT_ESTATE,
                        "witness %s holds size %" PRIu64 ", not %" PRIu64
                        ": retry with a proof from %" PRIu64,
                        wp->name, size, old_size, size);
        break;
    case 422:
        rc = vault__err(VAULT_EINTEGRITY, "witness %s: the consistency proof does not verify: %s",
                        wp->name, said);
        break;
    case 403:
        rc = vault__err(VAULT_EAUTH, "witness %s: the log's signature does not verify: %s",
                        wp->name, said);
        break;
    case 404:
        rc = vault__err(VAULT_ENOTFOUND, "witness %s does not witness this log: %s", wp->name,
                        said);
        break;
    case 400:
    case 413:
        rc = vault__err(VAULT_EINVALID, "witness %s refused the request (%ld): %s", wp->name,
                        status, said);
        break;
    default:
        rc = vault__err(VAULT_EIO, "witness %s answered %ld: %s", wp->name, status, said);
    }
cleanup:
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    free(body);
    free(b);
    return rc;
}
