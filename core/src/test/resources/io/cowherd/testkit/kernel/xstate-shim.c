/*
 * xstate-shim.c - LD_PRELOADed into the User-mode Linux binary (linux.uml 6.1).
 *
 * Why: UML 6.1 saves and restores a guest thread's FPU state with PTRACE_GETREGSET/SETREGSET
 * (NT_X86_XSTATE) into a fixed buffer sized for AVX-512. On hosts whose XSAVE area is bigger
 * (Intel AMX: about 11 KiB) the host kernel insists on a full-size buffer for SETREGSET and
 * answers EFAULT, and UML panics at boot ("ptrace set fp regs failed, errno = 14").
 * This shim gives UML what it asks for: reads go through a full-size buffer and are cut to
 * UML's size; writes are completed to full size with the components UML cannot hold (AMX tile
 * state, which no guest uses) marked as "initial" in the XSAVE header.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <cpuid.h>
#include <errno.h>

/* Not from <sys/ptrace.h>: it declares ptrace() with an enum, which this file redefines. */
#define PTRACE_GETREGSET 0x4204
#define PTRACE_SETREGSET 0x4205
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define BIG 65536
#define XSTATE_BV_OFFSET 512

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

static ptrace_fn real(void) {
    static ptrace_fn fn;
    if (!fn) fn = (ptrace_fn) dlsym(RTLD_NEXT, "ptrace");
    return fn;
}

/* Clears the header bits of every state component that does not fit in the first len bytes. */
static void drop_components_beyond(unsigned char *buf, size_t len) {
    uint64_t bv;
    memcpy(&bv, buf + XSTATE_BV_OFFSET, sizeof bv);
    for (unsigned i = 2; i < 64; i++) {
        unsigned eax, ebx, ecx, edx;
        if (!(bv & (1ULL << i))) continue;
        __cpuid_count(0xd, i, eax, ebx, ecx, edx);
        if ((size_t) ebx + eax > len) bv &= ~(1ULL << i);
    }
    memcpy(buf + XSTATE_BV_OFFSET, &bv, sizeof bv);
}

long ptrace(int request, ...) {
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if ((request == PTRACE_GETREGSET || request == PTRACE_SETREGSET) && (uintptr_t) addr == NT_X86_XSTATE) {
        static __thread unsigned char big[BIG] __attribute__((aligned(64)));
        struct iovec *want = data;
        struct iovec full = { big, BIG };
        long rc = real()(PTRACE_GETREGSET, pid, addr, &full);
        if (rc < 0 || full.iov_len <= want->iov_len) {
            return real()(request, pid, addr, data); /* nothing to fix: behave as before */
        }
        if (request == PTRACE_GETREGSET) {
            memcpy(want->iov_base, big, want->iov_len);
            return 0;
        }
        memcpy(big, want->iov_base, want->iov_len);
        drop_components_beyond(big, want->iov_len);
        return real()(PTRACE_SETREGSET, pid, addr, &full);
    }
    return real()(request, pid, addr, data);
}
