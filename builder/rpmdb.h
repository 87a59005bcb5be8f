/* rpmdb.h — the image's rpm database in the format the target's rpm reads.
 *
 * Debian's librpm 4.18 writes only sqlite (rpmdb.sqlite).  Alibaba Cloud
 * Linux 2 / CentOS 7 run rpm 4.11, which reads only Berkeley DB.  Design:
 * install writes sqlite (librpm's native format, fully consistent); for
 * "bdb" we then read every header back through librpm and write, with
 * libdb 5.3 (same on-disk hash/btree versions as CentOS 7's libdb 5.3.21):
 *   Packages   hash: key = header instance (native-endian uint32), data =
 *              the header blob; key 0 holds the highest instance number
 *              (rpm 4.11 allocates the next one from it);
 *   indexes    btree: Name Basenames Group Requirename Providename
 *              Conflictname Obsoletename Triggername Dirnames Installtid
 *              Sigmd5 Sha1header — key = the tag value (string bytes
 *              without NUL, raw int32 or raw binary), data = array of
 *              (instance, tag index) native uint32 pairs, as 4.11 writes.
 * and remove the sqlite file.  Why not the alternatives: a Packages-only
 * database makes rpm 4.11 rebuild indexes on first write, but leaves every
 * read-only query (rpm -q NAME, -qf) empty until then; running the target's
 * rpm from a bootstrap root needs a second root and a second install.
 * Writing the indexes ourselves keeps one install and is checked by host
 * rpm's read-only bdb backend (bdb_ro) in the tests. */
#ifndef IMGBUILD_RPMDB_H
#define IMGBUILD_RPMDB_H

/* Bring root's database (written by install as sqlite under /var/lib/rpm)
 * into format ("sqlite": leave it; "bdb": convert as above).  Returns 0,
 * ERR_INPUT for an unknown format, or ERR_INSTALL with *ret_error. */
int rpmdb_finalize(const char *root, const char *format, char **ret_error);

/* For a "bdb" target, the sqlite database rpm writes during the install
 * is scratch: the target's rpm cannot read it, rpmdb_finalize converts and
 * deletes it, and a failed install deletes the root.  Between these two
 * calls, rpm's connection to a database under root keeps its lock for the
 * whole transaction and its rollback journal in memory (no write-ahead log
 * to write and checkpoint).  Any other format: no change. */
void rpmdb_scratch_begin(const char *root, const char *format);
void rpmdb_scratch_end(void);

/* Write BDB Packages + indexes into dir (must exist and hold no BDB files)
 * from the headers of the sqlite database of root.  Exported for tests. */
int rpmdb_write_bdb(const char *root, const char *dir, char **ret_error);

#endif
