/*
 * Where spill files live, and their cleanup.
 *
 * Layout under a worker's (or a local run's) local directory LOCAL:
 *
 *   LOCAL/spill/                  0700, created on demand
 *   LOCAL/spill/<name>/           one spill directory: runs and their
 *                                 temporary files (spill/run.h)
 *   LOCAL/spill/<name>.lock       held with flock(2) by the process that
 *                                 owns <name>/ for as long as it lives
 *
 * <name> is a job id (a worker spills each job's runs in their own
 * directory, removed when the job ends) or, without one, "p<pid>-<random
 * hex>" (one per process). Ownership: the process holding the lock owns
 * the directory and everything in it; nobody else writes there. A lock
 * is released by the kernel when its process dies, however it dies, so
 * rn_spill_dir_sweep (run at start) can remove the directories of dead
 * processes and never those of a live one. The owner creates the lock
 * before the directory and removes the directory before the lock, so a
 * directory without a lock file is an orphan.
 *
 * Thread-safety: an rn_spill_dir may be shared by the threads of its
 * process (run writers name their files uniquely); _clear and _free must
 * not race with writers. The lock is per open file, so one process
 * cannot open the same name twice (the second open is RN_EEXIST).
 */
#ifndef RN_SPILL_DIR_H
#define RN_SPILL_DIR_H

#include <stddef.h>

#include "base/error.h"

/* Longest job id usable as a directory name. */
#define RN_SPILL_DIR_MAX_NAME 128

typedef struct rn_spill_dir rn_spill_dir;

/* Creates and locks LOCAL/spill/<name>/ (LOCAL is created too when
 * missing, 0700). job_id NULL: a fresh per-process name; otherwise the
 * job's name: [A-Za-z0-9._-], 1..RN_SPILL_DIR_MAX_NAME bytes, not
 * starting with '.' (RN_EINVAL). A job directory left by a dead process
 * is taken over and emptied; one a live process holds is RN_EEXIST.
 * RN_EIO when the file system refuses. */
int rn_spill_dir_open(rn_spill_dir **out, const char *local_dir,
                      const char *job_id, rn_errbuf *err);

/* The directory, to give rn_run_writer_open. */
const char *rn_spill_dir_path(const rn_spill_dir *d);

/* Removes every file in the directory (a job's runs when a phase is
 * done), keeping the directory and the lock. */
int rn_spill_dir_clear(rn_spill_dir *d, rn_errbuf *err);

/* Removes the directory and what it holds, then the lock; frees d. NULL
 * is a no-op. Errors are ignored: what remains is a dead process's
 * directory for the next sweep. */
void rn_spill_dir_free(rn_spill_dir *d);

/* At start: removes every LOCAL/spill/<name>/ (and lock) that no live
 * process holds: those of crashed or killed processes. *removed (may be
 * NULL) gets how many directories went. A missing LOCAL/spill is not an
 * error. */
int rn_spill_dir_sweep(const char *local_dir, size_t *removed,
                       rn_errbuf *err);

#endif
