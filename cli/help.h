/* vaultctl's help texts: generated at build time from cli/vaultctl.help
 * by tools/gen_help.py into the build tree (vaultctl_help.c), with the
 * man page and the bash completion (docs/help.md). */
#ifndef VAULTCTL_HELP_H
#define VAULTCTL_HELP_H

typedef struct vaultctl_help_entry {
    const char *name; /* "" the top-level text, "record" a group, "record add" a leaf */
    int group;        /* 1: a group's list of its leaves */
    const char *text;
} vaultctl_help_entry;

/* Ends with an entry whose name is NULL. */
extern const vaultctl_help_entry vaultctl_help_entries[];

#endif
