/* hpt io_uring engine: reads, writes and syncs queued from any thread; one thread (the waiter, which
 * runs uring_wait: hpt/native/uring.py's completion thread) enters the kernel for the ring.
 *
 * A submitter fills an SQE and publishes it (SQ tail) under the mutex, and wakes the waiter if it sleeps
 * (an eventfd write, which completes a read the waiter keeps armed on the ring). The waiter passes every
 * published SQE to the kernel in the io_uring_enter that also collects completions: all requests that
 * arrive while it runs completion callbacks go in one syscall (one block-layer plug, one device kick),
 * and the kernel's completion work runs in that thread (SINGLE_ISSUER | DEFER_TASKRUN where the kernel
 * has them, Linux 6.1), never as a signal to whichever thread submitted.
 *
 * The CQ is twice the SQ, and requests in flight are bounded by the CQ size: a submitter waits (on a
 * condition variable, without the Python GIL, which cffi releases around every call) until completions
 * are reaped. The waiter itself (``issuer``: a completion callback submitting a follow-up) never waits:
 * past the bound the kernel keeps extra completions on its overflow list (IORING_FEAT_NODROP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <liburing.h>
#include "uring.h"

#define WAIT_BATCH_MAX 256
#define EFD_TOKEN (UINT64_MAX - 1) /* the waiter's own eventfd read; never returned to the caller */

struct hpt_uring {
    struct io_uring ring;
    pthread_mutex_t mu;  /* the SQ (filling and publishing), and the fields below */
    pthread_cond_t room; /* signalled when requests in flight drop below the limit or the SQ drains */
    int64_t inflight;    /* published, not yet reaped */
    int64_t limit;
    unsigned waiters;    /* submitters waiting on room */
    int closing;         /* no new requests (uring_shutdown, or a broken ring) */
    int broken;          /* the -errno of an io_uring_enter that failed for good, else 0 */
    int live;            /* the ring exists (until uring_destroy) */
    int efd;             /* wakes the waiter */
    uint64_t efd_value;  /* the armed eventfd read's buffer */
    int efd_armed;       /* that read is queued (only the waiter's thread changes it after uring_new) */
    atomic_int sleeping; /* the waiter is (about to be) blocked in io_uring_enter */
    unsigned setup_flags;
};

static int transient(int err)
{
    return err == -EAGAIN || err == -EBUSY || err == -EINTR || err == -ENOMEM || err == -ETIME;
}

/* The next free SQE (mutex held), or NULL when the SQ is full of published, unsubmitted entries. */
static struct io_uring_sqe *sqe_locked(hpt_uring *u)
{
    struct io_uring_sq *sq = &u->ring.sq;
    unsigned head = io_uring_smp_load_acquire(sq->khead);
    unsigned idx = sq->sqe_tail & sq->ring_mask;

    if (sq->sqe_tail + 1 - head > sq->ring_entries)
        return NULL;
    sq->array[idx] = idx;
    sq->sqe_tail++;
    return &sq->sqes[idx];
}

/* Makes the filled SQEs visible to the kernel (mutex held). */
static void publish_locked(hpt_uring *u)
{
    struct io_uring_sq *sq = &u->ring.sq;

    sq->sqe_head = sq->sqe_tail;
    io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
}

/* SQEs published and not yet taken by the kernel. io_uring_enter waits for completions only when it
 * submitted all of to_submit, so the waiter passes exactly this count. */
static unsigned unsubmitted(hpt_uring *u)
{
    return io_uring_smp_load_acquire(u->ring.sq.ktail) - io_uring_smp_load_acquire(u->ring.sq.khead);
}

static void wake_waiter(hpt_uring *u)
{
    uint64_t one = 1;
    ssize_t ignored;

    atomic_thread_fence(memory_order_seq_cst); /* the SQ tail store before the sleeping load */
    if (atomic_exchange(&u->sleeping, 0)) {
        ignored = write(u->efd, &one, sizeof(one));
        (void)ignored;
    }
}

static int arm_eventfd_locked(hpt_uring *u)
{
    struct io_uring_sqe *sqe = sqe_locked(u);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_read(sqe, u->efd, &u->efd_value, sizeof(u->efd_value), 0);
    io_uring_sqe_set_data64(sqe, EFD_TOKEN);
    publish_locked(u);
    u->efd_armed = 1;
    return 0;
}

/* Must run on the thread that will call uring_wait (the ring's single issuer). */
hpt_uring *uring_new(unsigned entries, int *err)
{
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL, /* Linux 6.1 */
        0,
    };
    struct io_uring_params p;
    hpt_uring *u = calloc(1, sizeof(*u));
    int ret = -EINVAL;
    size_t i;

    if (!u) {
        *err = -ENOMEM;
        return NULL;
    }
    for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | tries[i];
        p.cq_entries = entries * 2;
        ret = io_uring_queue_init_params(entries, &u->ring, &p);
        if (ret != -EINVAL)
            break;
    }
    if (ret < 0) {
        free(u);
        *err = ret;
        return NULL;
    }
    u->efd = eventfd(0, EFD_CLOEXEC);
    if (u->efd < 0) {
        *err = -errno;
        io_uring_queue_exit(&u->ring);
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->room, NULL);
    u->setup_flags = p.flags;
    u->limit = p.cq_entries;
    u->live = 1;
    arm_eventfd_locked(u);
    *err = 0;
    return u;
}

/* An SQE for one request, with the mutex held; NULL (mutex released, *err set) once closing. */
static struct io_uring_sqe *begin(hpt_uring *u, int issuer, int *err)
{
    struct io_uring_sqe *sqe = NULL;
    int ret;

    pthread_mutex_lock(&u->mu);
    while (!u->closing && !issuer && u->inflight >= u->limit) {
        u->waiters++;
        pthread_cond_wait(&u->room, &u->mu);
        u->waiters--;
    }
    while (!u->closing && !(sqe = sqe_locked(u))) {
        /* SQ full of published entries the waiter has not passed to the kernel yet */
        if (issuer) {
            ret = io_uring_enter(u->ring.ring_fd, unsubmitted(u), 0, 0, NULL);
            if (ret < 0 && !transient(ret)) {
                u->broken = ret;
                u->closing = 1;
            }
        } else {
            pthread_mutex_unlock(&u->mu);
            wake_waiter(u);
            pthread_mutex_lock(&u->mu);
            if (io_uring_sq_space_left(&u->ring))
                continue;
            u->waiters++;
            pthread_cond_wait(&u->room, &u->mu);
            u->waiters--;
        }
    }
    if (!sqe) {
        *err = u->broken ? u->broken : -ESHUTDOWN;
        pthread_mutex_unlock(&u->mu);
    }
    return sqe;
}

/* Tags and publishes the SQE, releases the mutex, wakes the waiter if it sleeps. */
static int finish(hpt_uring *u, struct io_uring_sqe *sqe, uint64_t token, int issuer)
{
    io_uring_sqe_set_data64(sqe, token);
    u->inflight++;
    publish_locked(u);
    pthread_mutex_unlock(&u->mu);
    if (!issuer)
        wake_waiter(u);
    return 0;
}

int uring_read(hpt_uring *u, int fd, void *buf, uint32_t len, uint64_t offset, uint64_t token, int issuer)
{
    int err;
    struct io_uring_sqe *sqe = begin(u, issuer, &err);

    if (!sqe)
        return err;
    io_uring_prep_read(sqe, fd, buf, len, offset);
    return finish(u, sqe, token, issuer);
}

int uring_write(hpt_uring *u, int fd, const void *buf, uint32_t len, uint64_t offset, uint64_t token,
                int rw_flags, int issuer)
{
    int err;
    struct io_uring_sqe *sqe = begin(u, issuer, &err);

    if (!sqe)
        return err;
    io_uring_prep_write(sqe, fd, buf, len, offset);
    sqe->rw_flags = rw_flags;
    return finish(u, sqe, token, issuer);
}

int uring_fsync(hpt_uring *u, int fd, int datasync, uint64_t token, int issuer)
{
    int err;
    struct io_uring_sqe *sqe = begin(u, issuer, &err);

    if (!sqe)
        return err;
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    return finish(u, sqe, token, issuer);
}

int64_t uring_inflight(hpt_uring *u)
{
    int64_t n;

    pthread_mutex_lock(&u->mu);
    n = u->inflight;
    pthread_mutex_unlock(&u->mu);
    return n;
}

static void mark_broken(hpt_uring *u, int err)
{
    pthread_mutex_lock(&u->mu);
    if (!u->broken) {
        u->broken = err;
        u->closing = 1;
        pthread_cond_broadcast(&u->room);
    }
    pthread_mutex_unlock(&u->mu);
}

/* The waiter: passes published SQEs to the kernel, blocks for at least one completion, and returns up
 * to max (token, result) pairs at once. Returns -errno when io_uring_enter fails for good, or once the
 * last request in flight has completed after the eventfd read failed (new requests are refused then,
 * as the waiter could no longer be woken for them). */
int uring_wait(hpt_uring *u, uint64_t *tokens, int32_t *results, unsigned max)
{
    struct io_uring_cqe *cqes[WAIT_BATCH_MAX];
    unsigned i, n, got, wait_nr;
    int ret;

    if (max > WAIT_BATCH_MAX)
        max = WAIT_BATCH_MAX;
    for (;;) {
        if (!u->live)
            return -ESHUTDOWN;
        if (u->broken && uring_inflight(u) == 0)
            return u->broken;
        if (!u->efd_armed && !u->broken) {
            pthread_mutex_lock(&u->mu);
            arm_eventfd_locked(u); /* with the SQ full, on a later round: this one submits the SQ */
            pthread_mutex_unlock(&u->mu);
        }
        wait_nr = io_uring_cq_ready(&u->ring) ? 0 : 1;
        if (wait_nr) {
            atomic_store(&u->sleeping, 1);
            atomic_thread_fence(memory_order_seq_cst); /* the sleeping store before the SQ tail load */
        }
        ret = io_uring_enter(u->ring.ring_fd, unsubmitted(u), wait_nr, IORING_ENTER_GETEVENTS, NULL);
        if (wait_nr)
            atomic_store(&u->sleeping, 0);
        if (ret < 0 && !transient(ret)) {
            mark_broken(u, ret);
            return ret;
        }
        n = io_uring_peek_batch_cqe(&u->ring, cqes, max);
        got = 0;
        for (i = 0; i < n; i++) {
            if (cqes[i]->user_data != EFD_TOKEN) {
                tokens[got] = cqes[i]->user_data;
                results[got] = cqes[i]->res;
                got++;
            } else {
                u->efd_armed = 0;
                if (cqes[i]->res < 0 && !transient(cqes[i]->res))
                    mark_broken(u, cqes[i]->res);
            }
        }
        io_uring_cq_advance(&u->ring, n);
        pthread_mutex_lock(&u->mu);
        u->inflight -= got;
        if (u->waiters)
            pthread_cond_broadcast(&u->room);
        pthread_mutex_unlock(&u->mu);
        if (got)
            return (int)got;
    }
}

/* Refuses new requests from now on, and queues a NOP carrying ``token`` that wakes the waiter. */
int uring_shutdown(hpt_uring *u, uint64_t token)
{
    struct io_uring_sqe *sqe;
    int err;

    pthread_mutex_lock(&u->mu);
    if (u->closing) {
        err = u->broken ? u->broken : -ESHUTDOWN;
        pthread_mutex_unlock(&u->mu);
        return err;
    }
    u->closing = 1;
    pthread_cond_broadcast(&u->room);
    while (!(sqe = sqe_locked(u))) {
        pthread_mutex_unlock(&u->mu);
        wake_waiter(u);
        pthread_mutex_lock(&u->mu);
        if (u->broken || !u->live) {
            pthread_mutex_unlock(&u->mu);
            return u->broken ? u->broken : -ESHUTDOWN;
        }
        if (!io_uring_sq_space_left(&u->ring)) {
            u->waiters++;
            pthread_cond_wait(&u->room, &u->mu);
            u->waiters--;
        }
    }
    io_uring_prep_nop(sqe);
    return finish(u, sqe, token, 0);
}


unsigned uring_sq_entries(hpt_uring *u)
{
    return u->ring.sq.ring_entries;
}

unsigned uring_cq_entries(hpt_uring *u)
{
    return u->ring.cq.ring_entries;
}

unsigned uring_setup_flags(hpt_uring *u)
{
    return u->setup_flags;
}

/* Frees the kernel ring (from the waiter's thread, once it stopped waiting); later submissions fail with
 * -ESHUTDOWN. */
void uring_destroy(hpt_uring *u)
{
    pthread_mutex_lock(&u->mu);
    u->closing = 1;
    if (u->live) {
        io_uring_queue_exit(&u->ring);
        u->live = 0;
    }
    pthread_cond_broadcast(&u->room);
    pthread_mutex_unlock(&u->mu);
}

/* Frees the handle (from the Python object's finaliser, when no thread can still use it). The eventfd
 * lives until here: a submitter may still be about to write to it when the ring is destroyed. */
void uring_free(hpt_uring *u)
{
    uring_destroy(u);
    close(u->efd);
    pthread_cond_destroy(&u->room);
    pthread_mutex_destroy(&u->mu);
    free(u);
}
