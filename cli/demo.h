/* vaultctl demo: the embedded tour (cmd_demo.c) and its service part
 * (demo_service.c). */
#ifndef VAULTCTL_DEMO_H
#define VAULTCTL_DEMO_H

#include "cli.h"

/* "== title" */
void demo_step(const char *title);
/* Print a read of `fields` of record `id` as `who` sees it, field by field. */
void demo_show_read(vault_session *s, const char *who, const char *id, const char *const *fields,
                    size_t n);

/* Step 5b (cli/demo_hotline.c): a new vault at vault_path (key file
 * key_path) on the hotline policy, a complaint dispatched to the urban
 * management bureau.  Returns an exit code (EXIT_OK). */
int demo_hotline(const char *vault_path, const char *key_path, const char *policy);

/* What the service part takes over from the embedded tour: the temporary
 * directory, the vault (closed) and its key file, residents A and B. */
typedef struct demo_service_in {
    const char *dir, *vault, *key_file;
    const char *vaultd;   /* the vaultd binary */
    const char *vaultctl; /* this program, for `vaultctl token` */
    const char *id_a, *id_b;
} demo_service_in;

/* Start vaultd on the vault, show what apps can do through it in client
 * mode (vault_connect), stop it.  Returns an exit code (EXIT_OK). */
int demo_service(cli *c, const demo_service_in *in);

/* The files the service part leaves in the directory (for removal). */
extern const char *const demo_service_files[];

#endif
