/* hpt io_uring engine: the C interface (uring.c over liburing; loaded through cffi by hpt/native/uring.py). */
#include <stdint.h>
#include <stddef.h>
typedef struct hpt_uring hpt_uring;
hpt_uring *uring_new(unsigned entries, int *err);
int uring_read(hpt_uring *u, int fd, void *buf, uint32_t len, uint64_t offset, uint64_t token, int issuer);
int uring_write(hpt_uring *u, int fd, const void *buf, uint32_t len, uint64_t offset, uint64_t token,
                int rw_flags, int issuer);
int uring_fsync(hpt_uring *u, int fd, int datasync, uint64_t token, int issuer);
int uring_wait(hpt_uring *u, uint64_t *tokens, int32_t *results, unsigned max);
int uring_shutdown(hpt_uring *u, uint64_t token);
int64_t uring_inflight(hpt_uring *u);
unsigned uring_sq_entries(hpt_uring *u);
unsigned uring_cq_entries(hpt_uring *u);
unsigned uring_setup_flags(hpt_uring *u);
void uring_destroy(hpt_uring *u);
void uring_free(hpt_uring *u);
