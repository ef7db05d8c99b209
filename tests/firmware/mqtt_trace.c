/* LD_PRELOAD shim for the firmware tests: records, for sockets connected to the TCP port in
 * MQTT_TRACE_PORT, every connect(), setsockopt() and write (write/send/sendto) with its bytes,
 * one line each, appended to MQTT_TRACE_FILE:
 *   C <pid> <fd>                             connect() to the port
 *   O <pid> <fd> <level> <name> <value>      a setsockopt() that succeeded
 *   W <pid> <fd> <hex>                       one write call: the bytes it wrote
 * and every file opened for writing whose path contains MQTT_TRACE_FILES:
 *   F <pid> <path>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int port_of(const struct sockaddr *addr) {
    if (addr && addr->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)addr)->sin_port);
    if (addr && addr->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return -1;
}

static int traced_port(void) {
    const char *port = getenv("MQTT_TRACE_PORT");
    return port ? atoi(port) : -2;
}

static int traced(int fd) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getpeername(fd, (struct sockaddr *)&addr, &len) != 0) return 0;
    return port_of((struct sockaddr *)&addr) == traced_port();
}

static void emit(const char *head, const void *buf, size_t n) {
    const char *path = getenv("MQTT_TRACE_FILE");
    if (!path) return;
    size_t hlen = strlen(head);
    char *line = malloc(hlen + 2 * n + 2);
    if (!line) return;
    memcpy(line, head, hlen);
    for (size_t i = 0; i < n; i++)
        sprintf(line + hlen + 2 * i, "%02x", ((const unsigned char *)buf)[i]);
    line[hlen + 2 * n] = '\n';
    int out = (int)syscall(SYS_open, path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (out >= 0) {
        syscall(SYS_write, out, line, hlen + 2 * n + 1); /* one append: lines never interleave */
        syscall(SYS_close, out);
    }
    free(line);
}

static void written(int fd, const void *buf, ssize_t n) {
    if (n <= 0 || !traced(fd)) return;
    char head[64];
    snprintf(head, sizeof head, "W %d %d ", (int)getpid(), fd);
    emit(head, buf, (size_t)n);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "connect");
    if (port_of(addr) == traced_port()) {
        char head[64];
        snprintf(head, sizeof head, "C %d %d", (int)getpid(), fd);
        emit(head, "", 0);
    }
    return real(fd, addr, len);
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
    static int (*real)(int, int, int, const void *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "setsockopt");
    int result = real(fd, level, name, value, len);
    if (result == 0 && traced(fd)) {
        char head[96];
        int v = len >= (socklen_t)sizeof(int) ? *(const int *)value : -1;
        snprintf(head, sizeof head, "O %d %d %d %d %d", (int)getpid(), fd, level, name, v);
        emit(head, "", 0);
    }
    return result;
}

ssize_t write(int fd, const void *buf, size_t n) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "write");
    ssize_t done = real(fd, buf, n);
    written(fd, buf, done);
    return done;
}

ssize_t send(int fd, const void *buf, size_t n, int flags) {
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real) real = dlsym(RTLD_NEXT, "send");
    ssize_t done = real(fd, buf, n, flags);
    written(fd, buf, done);
    return done;
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
               socklen_t len) {
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!real) real = dlsym(RTLD_NEXT, "sendto");
    ssize_t done = real(fd, buf, n, flags, addr, len);
    written(fd, buf, done);
    return done;
}

static void opened(const char *path, int flags) {
    const char *watched = getenv("MQTT_TRACE_FILES");
    if (!watched || !path || !(flags & (O_WRONLY | O_RDWR)) || !strstr(path, watched)) return;
    char head[600];
    snprintf(head, sizeof head, "F %d %s", (int)getpid(), path);
    emit(head, "", 0);
}

#define OPEN_SHIM(name)                                              \
    int name(const char *path, int flags, ...) {                     \
        static int (*real)(const char *, int, ...);                  \
        if (!real) real = dlsym(RTLD_NEXT, #name);                   \
        va_list args;                                                \
        va_start(args, flags);                                       \
        int mode = va_arg(args, int);                                \
        va_end(args);                                                \
        opened(path, flags);                                         \
        return real(path, flags, mode);                              \
    }

OPEN_SHIM(open)
OPEN_SHIM(open64)

#define OPENAT_SHIM(name)                                            \
    int name(int dir, const char *path, int flags, ...) {            \
        static int (*real)(int, const char *, int, ...);             \
        if (!real) real = dlsym(RTLD_NEXT, #name);                   \
        va_list args;                                                \
        va_start(args, flags);                                       \
        int mode = va_arg(args, int);                                \
        va_end(args);                                                \
        opened(path, flags);                                         \
        return real(dir, path, flags, mode);                         \
    }

OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)
