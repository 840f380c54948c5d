/* Spill directories: ownership by lock, cleanup, the sweep of dead
 * processes' directories (core/spill/dir.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spill/dir.h"
#include "spill/run.h"
#include "testutil.h"

static int exists(const char *fmt, const char *a, const char *b)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof(path), fmt, a, b);
    return lstat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* A run with one record in dir; 0 on success. */
static int put_run(const char *dir)
{
    rn_run_writer *w;
    rn_run_info info;
    rn_errbuf err;
    rn_value v = rn_string("k", 1);
    if (rn_run_writer_open(&w, dir, 1, NULL, &err) ||
        rn_run_writer_add(w, 1, &v, &err) ||
        rn_run_writer_finish(w, &info, &err))
        return -1;
    rn_run_info_release(&info);
    return 0;
}

static void test_open_and_free(void **state)
{
    char *local = rn_test_tmpdir("spill-dir");
    char sub[4096];
    rn_spill_dir *d, *j, *j2;
    rn_errbuf err;
    struct stat st;
    (void)state;

    /* LOCAL itself is created when missing */
    snprintf(sub, sizeof(sub), "%s/a/b", local);
    assert_int_equal(rn_spill_dir_open(&d, sub, NULL, &err), 0);
    assert_int_equal(strncmp(rn_spill_dir_path(d), sub, strlen(sub)), 0);
    assert_non_null(strstr(rn_spill_dir_path(d), "/spill/p"));
    assert_int_equal(stat(rn_spill_dir_path(d), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(put_run(rn_spill_dir_path(d)), 0);
    assert_int_equal(put_run(rn_spill_dir_path(d)), 0);
    assert_int_equal(count_entries(rn_spill_dir_path(d)), 2);
    /* clear: the files go, the directory stays */
    assert_int_equal(rn_spill_dir_clear(d, &err), 0);
    assert_int_equal(count_entries(rn_spill_dir_path(d)), 0);
    assert_int_equal(put_run(rn_spill_dir_path(d)), 0);

    /* a job's directory; twice is refused while held */
    assert_int_equal(rn_spill_dir_open(&j, sub, "job-7.a_b", &err), 0);
    assert_true(exists("%s/spill/%s", sub, "job-7.a_b"));
    assert_true(exists("%s/spill/%s.lock", sub, "job-7.a_b"));
    assert_int_equal(rn_spill_dir_open(&j2, sub, "job-7.a_b", &err),
                     RN_EEXIST);
    assert_non_null(strstr(err.msg, "in use by another process"));
    assert_int_equal(rn_spill_dir_open(&j2, sub, "../x", &err), RN_EINVAL);
    assert_int_equal(rn_spill_dir_open(&j2, sub, ".hidden", &err),
                     RN_EINVAL);
    assert_int_equal(rn_spill_dir_open(&j2, sub, "", &err), RN_EINVAL);
    assert_int_equal(rn_spill_dir_open(&j2, sub, "a/b", &err), RN_EINVAL);

    /* a sweep keeps what live owners hold (this process) */
    {
        size_t removed = 9;
        assert_int_equal(rn_spill_dir_sweep(sub, &removed, &err), 0);
        assert_int_equal(removed, 0);
        assert_int_equal(count_entries(rn_spill_dir_path(d)), 1);
        assert_true(exists("%s/spill/%s", sub, "job-7.a_b"));
    }

    /* free removes the directory, its files and the lock */
    rn_spill_dir_free(j);
    assert_false(exists("%s/spill/%s", sub, "job-7.a_b"));
    assert_false(exists("%s/spill/%s.lock", sub, "job-7.a_b"));
    rn_spill_dir_free(d);
    snprintf(sub, sizeof(sub), "%s/a/b/spill", local);
    assert_int_equal(count_entries(sub), 0);
    rn_spill_dir_free(NULL);
    rn_test_rmtree(local);
    free(local);
}

/* Children that die holding spill directories (as a killed worker
 * would), one that stays alive, and an orphan directory without a lock:
 * the sweep removes the dead ones' and the orphan, never the live one's;
 * a dead process's job directory is taken over, emptied. */
static void test_sweep(void **state)
{
    char *local = rn_test_tmpdir("spill-sweep");
    char spill[1024], path[4096];
    int alive_pipe[2], ready[2];
    pid_t alive, dead[2];
    rn_errbuf err;
    size_t removed;
    rn_spill_dir *d;
    char buf[8];
    (void)state;

    snprintf(spill, sizeof(spill), "%s/spill", local);
    for (int i = 0; i < 2; i++) {
        dead[i] = fork();
        assert_true(dead[i] >= 0);
        if (dead[i] == 0) {
            rn_spill_dir *cd;
            /* one per-process directory, one job directory */
            if (rn_spill_dir_open(&cd, local, i ? "job-dead" : NULL, &err) ||
                put_run(rn_spill_dir_path(cd)))
                _exit(1);
            /* a temporary file too, as if killed while writing */
            snprintf(path, sizeof(path), "%s/run-1-1.tmp",
                     rn_spill_dir_path(cd));
            if (rn_test_write_file(path, "x", 1))
                _exit(1);
            kill(getpid(), SIGKILL); /* no cleanup of any kind */
            _exit(1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(dead[i], &status, 0), dead[i]);
        assert_true(WIFSIGNALED(status));
    }
    /* a live process holding a job directory */
    assert_int_equal(pipe(alive_pipe), 0);
    assert_int_equal(pipe(ready), 0);
    alive = fork();
    assert_true(alive >= 0);
    if (alive == 0) {
        rn_spill_dir *cd;
        close(alive_pipe[1]);
        if (rn_spill_dir_open(&cd, local, "job-live", &err) ||
            put_run(rn_spill_dir_path(cd)))
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        if (read(alive_pipe[0], buf, 1) < 0) /* until the parent says */
            _exit(1);
        rn_spill_dir_free(cd);
        _exit(0);
    }
    close(alive_pipe[0]);
    assert_int_equal(read(ready[0], buf, 1), 1);
    /* an orphan: a directory with no lock file */
    snprintf(path, sizeof(path), "%s/orphan", spill);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/orphan/run-9-9.run", spill);
    assert_int_equal(rn_test_write_file(path, "x", 1), 0);
    /* a file that is not ours stays */
    snprintf(path, sizeof(path), "%s/README", spill);
    assert_int_equal(rn_test_write_file(path, "x", 1), 0);
    /* 2 dead + live + orphan directories, 3 locks, README */
    assert_int_equal(count_entries(spill), 8);

    /* the dead job's directory is taken over, emptied */
    assert_int_equal(rn_spill_dir_open(&d, local, "job-dead", &err), 0);
    assert_int_equal(count_entries(rn_spill_dir_path(d)), 0);
    /* and the live one's is refused */
    {
        rn_spill_dir *d2;
        assert_int_equal(rn_spill_dir_open(&d2, local, "job-live", &err),
                         RN_EEXIST);
    }

    assert_int_equal(rn_spill_dir_sweep(local, &removed, &err), 0);
    assert_int_equal(removed, 2); /* the dead process's and the orphan */
    assert_true(exists("%s/%s", spill, "job-live"));
    assert_true(exists("%s/%s", spill, "job-live.lock"));
    assert_true(exists("%s/%s", spill, "job-dead")); /* ours now */
    assert_false(exists("%s/%s", spill, "orphan"));
    assert_true(exists("%s/%s", spill, "README"));
    /* live + ours, their locks, README */
    assert_int_equal(count_entries(spill), 5);

    /* the live process ends; killed instead, its directory goes too */
    kill(alive, SIGKILL);
    {
        int status;
        assert_int_equal(waitpid(alive, &status, 0), alive);
    }
    close(alive_pipe[1]);
    assert_int_equal(rn_spill_dir_sweep(local, &removed, &err), 0);
    assert_int_equal(removed, 1);
    assert_false(exists("%s/%s", spill, "job-live"));
    assert_false(exists("%s/%s", spill, "job-live.lock"));
    rn_spill_dir_free(d);
    assert_int_equal(count_entries(spill), 1); /* README */

    /* no spill directory at all: nothing to do */
    assert_int_equal(rn_spill_dir_sweep("/nonexistent-local", &removed, &err),
                     0);
    assert_int_equal(removed, 0);
    close(ready[0]);
    close(ready[1]);
    rn_test_rmtree(local);
    free(local);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_free),
        cmocka_unit_test(test_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
