/*
 * The ingest bench's load generator in C: the Python client's behaviour at a
 * fraction of its CPU, so the harness takes less of the cores it measures.
 *
 *   http_load PORT REQUESTS CONNECTIONS THREADS BATCH
 *
 * REQUESTS is a file of records [u32 events][u32 length][length bytes: one
 * whole HTTP/1.1 request], little-endian, written by http_load.py. THREADS
 * threads each drive their share of CONNECTIONS keep-alive connections to
 * 127.0.0.1:PORT from one epoll loop on non-blocking sockets; a connection
 * takes the next request of the file, sends it and waits for its whole answer
 * (Content-Length) before it takes another. BATCH 1: a 200 answer is a batch
 * summary whose "failed" count is added to the refused events; otherwise every
 * 4xx answer refuses its request's events.
 *
 * The report, on stdout, one item a line:
 *   first S / last S   first send, last answer (CLOCK_MONOTONIC seconds, the
 *                      clock of Python's time.perf_counter on Linux)
 *   cpu S              this process's CPU time from the first connect on
 *   events N / refused N
 *   status CODE N      one line per status seen
 *   latency S          one line per answer
 * Exit status 0, or 1 with the reason on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE 65536
#define STATUSES 600

struct request {
    uint32_t events;
    uint32_t length;
    const char *bytes;
};

struct conn {
    int fd;
    long req;       /* index of the request in flight, -1: none */
    size_t sent;    /* bytes of it sent */
    char *in;       /* what arrived of its answer */
    size_t in_len, in_cap;
    double started;
};

struct worker {
    pthread_t thread;
    int connections;
    struct conn *conns;
    double first, last;
    long events, refused;
    long statuses[STATUSES];
    double *latencies;
    long answers;
    const char *error;
};

static struct request *requests;
static long request_count;
static long next_request; /* taken with __atomic_fetch_add */
static int port, batch;
static pthread_barrier_t connected;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
    fprintf(stderr, "http_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void load_requests(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        fail(path);
    if (fseek(file, 0, SEEK_END) != 0)
        fail(path);
    long size = ftell(file);
    rewind(file);
    char *data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, file) != (size_t)size)
        fail(path);
    fclose(file);
    long capacity = 1024;
    requests = malloc(sizeof *requests * (size_t)capacity);
    long at = 0;
    while (at + 8 <= size) {
        uint32_t head[2];
        memcpy(head, data + at, 8);
        at += 8;
        if (at + (long)head[1] > size) {
            fprintf(stderr, "http_load: %s: a request runs past the end\n", path);
            exit(1);
        }
        if (request_count == capacity) {
            capacity *= 2;
            requests = realloc(requests, sizeof *requests * (size_t)capacity);
        }
        if (!requests)
            fail("memory");
        requests[request_count++] = (struct request){head[0], head[1], data + at};
        at += head[1];
    }
}

static int open_connection(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        fail("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0)
        fail("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        fail("fcntl");
    return fd;
}

/* Send what the socket takes of the request in flight: 1 when all of it went. */
static int push(struct conn *c)
{
    const struct request *r = &requests[c->req];
    while (c->sent < r->length) {
        ssize_t n = send(c->fd, r->bytes + c->sent, r->length - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            fail("send");
        }
        c->sent += (size_t)n;
    }
    return 1;
}

/* Take the next request and send it; 0 when none is left. */
static int send_next(struct worker *w, int epoll, struct conn *c)
{
    long index = __atomic_fetch_add(&next_request, 1, __ATOMIC_RELAXED);
    if (index >= request_count) {
        c->req = -1;
        return 0;
    }
    c->req = index;
    c->sent = 0;
    c->started = now();
    if (w->first == 0)
        w->first = c->started;
    if (!push(c)) { /* a large body: the rest when the socket takes it */
        struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &e);
    }
    return 1;
}

/* The Content-Length of a head of head_len bytes (0 when it has none). */
static size_t content_length(const char *head, size_t head_len)
{
    static const char name[] = "\r\ncontent-length:";
    size_t n = sizeof name - 1;
    for (size_t i = 0; i + n <= head_len; i++) {
        if (strncasecmp(head + i, name, n) == 0)
            return (size_t)strtoul(head + i + n, NULL, 10);
    }
    return 0;
}

/* A whole answer of c is in: count it. */
static void answered(struct worker *w, struct conn *c, const char *body, size_t length)
{
    const struct request *r = &requests[c->req];
    double at = now();
    w->latencies[w->answers++] = at - c->started;
    w->last = at;
    int status = atoi(c->in + 9);
    if (status >= 0 && status < STATUSES)
        w->statuses[status]++;
    w->events += r->events;
    if (batch && status == 200) {
        static const char key[] = "\"failed\":";
        const char *found = memmem(body, length, key, sizeof key - 1);
        if (found)
            w->refused += strtol(found + sizeof key - 1, NULL, 10);
    } else if (status >= 400 && status < 500) {
        w->refused += r->events;
    }
}

/* Read what arrived; 1 when the answer is whole (and counted). */
static int pull(struct worker *w, struct conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < READ_SIZE) {
            c->in_cap = c->in_len + READ_SIZE * 2;
            c->in = realloc(c->in, c->in_cap + 1);
            if (!c->in)
                fail("memory");
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n == 0) {
            w->error = "the gateway closed a connection";
            return -1;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            fail("recv");
        }
        c->in_len += (size_t)n;
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
            continue;
        size_t head = (size_t)(end - c->in) + 4;
        size_t length = content_length(c->in, head);
        if (c->in_len < head + length)
            continue;
        answered(w, c, c->in + head, length);
        c->in_len = 0; /* one request in flight: nothing follows its answer */
        return 1;
    }
}

static void *drive(void *arg)
{
    struct worker *w = arg;
    int epoll = epoll_create1(0);
    if (epoll < 0)
        fail("epoll_create1");
    w->conns = calloc((size_t)w->connections, sizeof *w->conns);
    w->latencies = malloc(sizeof(double) * (size_t)(request_count + 1));
    if (!w->conns || !w->latencies)
        fail("memory");
    for (int i = 0; i < w->connections; i++) {
        struct conn *c = &w->conns[i];
        c->fd = open_connection();
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &e) != 0)
            fail("epoll_ctl");
    }
    pthread_barrier_wait(&connected);
    int active = 0;
    for (int i = 0; i < w->connections; i++)
        active += send_next(w, epoll, &w->conns[i]);
    struct epoll_event events[256];
    while (active > 0 && !w->error) {
        int ready = epoll_wait(epoll, events, 256, -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            fail("epoll_wait");
        }
        for (int i = 0; i < ready && !w->error; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->req < 0)
                continue;
            if ((events[i].events & EPOLLOUT) && push(c)) {
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &e);
            }
            if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            int whole = pull(w, c);
            if (whole == 1 && !send_next(w, epoll, c))
                active--;
        }
    }
    for (int i = 0; i < w->connections; i++)
        close(w->conns[i].fd);
    close(epoll);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: http_load PORT REQUESTS CONNECTIONS THREADS BATCH\n");
        return 2;
    }
    port = atoi(argv[1]);
    int connections = atoi(argv[3]);
    int threads = atoi(argv[4]);
    batch = atoi(argv[5]) != 0;
    if (port <= 0 || connections <= 0 || threads <= 0) {
        fprintf(stderr, "http_load: PORT, CONNECTIONS and THREADS are positive numbers\n");
        return 2;
    }
    if (threads > connections)
        threads = connections;
    load_requests(argv[2]);
    double cpu = cpu_now();
    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    if (!workers)
        fail("memory");
    pthread_barrier_init(&connected, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        workers[i].connections = connections / threads + (i < connections % threads);
        if (pthread_create(&workers[i].thread, NULL, drive, &workers[i]) != 0)
            fail("pthread_create");
    }
    for (int i = 0; i < threads; i++)
        pthread_join(workers[i].thread, NULL);
    cpu = cpu_now() - cpu;
    double first = 0, last = 0;
    long events = 0, refused = 0;
    long statuses[STATUSES] = {0};
    for (int i = 0; i < threads; i++) {
        struct worker *w = &workers[i];
        if (w->error) {
            fprintf(stderr, "http_load: %s\n", w->error);
            return 1;
        }
        if (w->first > 0 && (first == 0 || w->first < first))
            first = w->first;
        if (w->last > last)
            last = w->last;
        events += w->events;
        refused += w->refused;
        for (int s = 0; s < STATUSES; s++)
            statuses[s] += w->statuses[s];
    }
    printf("first %.9f\nlast %.9f\ncpu %.6f\nevents %ld\nrefused %ld\n", first, last, cpu, events,
           refused);
    for (int s = 0; s < STATUSES; s++)
        if (statuses[s])
            printf("status %d %ld\n", s, statuses[s]);
    for (int i = 0; i < threads; i++)
        for (long j = 0; j < workers[i].answers; j++)
            printf("latency %.9f\n", workers[i].latencies[j]);
    return fflush(stdout) == 0 ? 0 : 1;
}
