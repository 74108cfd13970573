/*
 * privdrop.c: give up root after start-up (global.user / global.group).
 * The pidfile and the control socket are made first, as root, and handed
 * to the new owner so that kmirrorctl (as that user or root) and the
 * shutdown can still use them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sup.h"

int
privdrop(const char *user, const char *group, const char *const *own, char *err,
    size_t errlen)
{
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "global.user \"%s\" does not exist", user);
		return -1;
	}
	gid = pw->pw_gid;
	if (group && *group) {
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen, "global.group \"%s\" does not exist", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	for (int i = 0; own && own[i]; i++)
		if (*own[i] && chown(own[i], pw->pw_uid, gid) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "cannot give %s to %s: %s", own[i], user,
			    strerror(errno));
			return -1;
		}
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "still root after dropping to %s", user);
		return -1;
	}
	return 0;
}
