/*
 * udp_batch: batched UDP receive and send for Node.js on Linux, through N-API.
 *
 * Why: Node's dgram makes one recvmsg, one JS callback and one sendmsg per datagram; at DNS rates
 * the sendmsg path alone was 57% of clusterdns's time (bench/README.md). Here one uv_poll_t watches
 * the socket; when it is readable, recvmmsg reads up to `batch` datagrams into a slab shared with
 * JS, JS is called once for the whole batch, writes the replies it has at once into an out slab,
 * and send(n) hands them all to one sendmmsg. Replies that come later (an answer that waited for an
 * upstream) go out one by one with sendOne().
 *
 * The socket is not created here: it is the fd of a Node dgram socket, which did the bind (so bind
 * errors, IPv6-only and node:cluster's shared handle stay Node's). The caller stops dgram's reading
 * first; we dup() the fd, because libuv keeps one watcher per fd and dgram keeps its own.
 *
 * What JS sees (ints are Int32Array elements, `slot` bytes a datagram):
 *   in       datagram i of the batch is bytes [i*slot, i*slot + length)
 *   inMeta   IN_META ints per datagram: [0] length, [1] flags (FLAG_TRUNCATED: the datagram was
 *            longer than `slot` and is cut, MSG_TRUNC; FLAG_SCOPED: a link-local IPv6 source whose
 *            text carries an interface, "fe80::1%eth0"), [2] family (4 or 6), [3] port,
 *            [4..7] the source address bytes (IPv4: the first 4)
 *   out      reply j is bytes [j*slot, j*slot + length)
 *   outMeta  OUT_META ints per reply: [0] length, [1] the index in this batch of the datagram it
 *            answers (the reply goes to that datagram's source)
 * in, inMeta and the sources behind address(i) and send(n) are only valid during the callback:
 * the next recvmmsg overwrites them.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bumped when the JS-visible layout or API changes: the loader refuses a stale build. */
#define ABI_VERSION 3
#define IN_META 8
#define OUT_META 2
#define FLAG_TRUNCATED 1
#define FLAG_SCOPED 2
/* Replies the kernel would not take (EAGAIN) wait here for POLLOUT; past this many they are
 * dropped, as the kernel drops what overflows a socket buffer. */
#define MAX_QUEUED 4096
/* Batches read per wakeup before the loop gets its turn (timers, TCP, the other sockets: the
 * Kubernetes watch among them). 16 (up to 1,024 datagrams, ~15 ms of work) held the watch stream
 * back under load: watch→answer p99 98 ms at 28k qps offered; 2 (128 datagrams) gave 28–33 ms with
 * the same throughput (bench, 1 worker, A/B alternated twice: 53–60k vs 57–66k qps). */
#define MAX_ROUNDS 2

typedef struct queued {
  struct queued *next;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  size_t len;
  uint8_t data[];
} queued_t;

typedef struct stats {
  double rx, tx, batches, truncated, recv_errors, send_errors, eagain, dropped;
} stats_t;

typedef struct sock {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int family;          /* AF_INET or AF_INET6, of the socket */
  int events;          /* what the poll watches now */
  int closing;         /* close() called: no more callbacks, methods throw */
  int env_gone;        /* the JS environment is being torn down: no more napi calls */
  int hooked;          /* the env cleanup hook is registered */
  struct box *box;     /* the JS object's link to us; NULL once the object was collected */
  uint32_t batch, slot;
  uint32_t in_batch;   /* datagrams of the batch JS is handling now; 0 outside the callback */
  uint8_t *in, *out;
  int32_t *in_meta, *out_meta;
  struct mmsghdr *rmsg, *smsg;
  struct iovec *riov, *siov;
  struct sockaddr_storage *raddr;
  napi_ref cb, self;
  napi_async_context actx;
  queued_t *qhead, *qtail;
  uint32_t nqueued;
  uint32_t simulated_eagain; /* see js_simulate_would_block */
  stats_t st;
} sock_t;

/*
 * The JS object owns a box, the socket lives until its poll handle is closed: the two lifetimes
 * differ (JS may keep the object after close(), or the environment may end with the socket open),
 * so each side clears its pointer to the other when it goes.
 */
typedef struct box {
  sock_t *s;
} box_t;

/* Tags our JS objects (napi_type_tag_object), so that a method called with `this` set to another
 * addon's wrapped object is refused instead of its data being taken for a box. */
static const napi_type_tag BATCH_SOCKET_TAG = {0x9c3a1f0e5b7d4c21ULL, 0x6e8f2a4b1d0c9e37ULL};

/* The box wrapped in `self` when it is one of our objects, else NULL (nothing thrown). */
static box_t *unwrap_box(napi_env env, napi_value self) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, self, &BATCH_SOCKET_TAG, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return data;
}

/* ---- errors ------------------------------------------------------------------------------- */

/* Throws an Error like Node's own: "what: message", with .code ("EBADF") and .errno set. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  int uverr = uv_translate_sys_error(err);
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, uv_strerror(uverr));
  napi_value m, c, e, n;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok ||
      napi_create_string_utf8(env, uv_err_name(uverr), NAPI_AUTO_LENGTH, &c) != napi_ok ||
      napi_create_error(env, c, m, &e) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  if (napi_create_int32(env, -err, &n) == napi_ok) napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

/* Every napi call in a method goes through this: a failure throws (unless one is pending). */
#define NAPI_OK(call)                                                     \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      bool pending_ = false;                                              \
      napi_is_exception_pending(env, &pending_);                          \
      if (!pending_) napi_throw_error(env, NULL, "udp_batch: " #call " failed"); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

/* ---- addresses ------------------------------------------------------------------------------ */

static void to_meta(const struct sockaddr_storage *sa, int32_t *m) {
  uint8_t *b = (uint8_t *)(m + 4);
  memset(b, 0, 16);
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
    m[2] = 4;
    m[3] = ntohs(s4->sin_port);
    memcpy(b, &s4->sin_addr, 4);
  } else {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    m[2] = 6;
    m[3] = ntohs(s6->sin6_port);
    memcpy(b, &s6->sin6_addr, 16);
    if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && s6->sin6_scope_id != 0) m[1] |= FLAG_SCOPED;
  }
}

/*
 * The text Node's dgram gives as rinfo.address (node's AddressToJS): inet_ntop, and for a
 * link-local IPv6 source "%" + the interface name when the interface is known.
 */
static int address_text(const struct sockaddr_storage *sa, char *out, size_t size) {
  if (sa->ss_family == AF_INET) {
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, size) ? 0 : errno;
  }
  const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
  if (!inet_ntop(AF_INET6, &s6->sin6_addr, out, size)) return errno;
  if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) && s6->sin6_scope_id != 0) {
    char name[IF_NAMESIZE];
    size_t n = strlen(out);
    if (if_indextoname(s6->sin6_scope_id, name) && n + 1 + strlen(name) < size) {
      out[n] = '%';
      strcpy(out + n + 1, name);
    }
  }
  return 0;
}

/*
 * Parses an IP literal ("192.0.2.1", "2001:db8::1", "fe80::1%eth0") and a port into a destination
 * for this socket: an IPv4 address on an IPv6 socket becomes its v4-mapped form. 0 or EINVAL.
 */
static int parse_destination(const sock_t *s, const char *text, uint32_t port, struct sockaddr_storage *sa, socklen_t *len) {
  memset(sa, 0, sizeof *sa);
  struct in_addr a4;
  if (inet_pton(AF_INET, text, &a4) == 1) {
    if (s->family == AF_INET) {
      struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
      s4->sin_family = AF_INET;
      s4->sin_port = htons((uint16_t)port);
      s4->sin_addr = a4;
      *len = sizeof *s4;
      return 0;
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    s6->sin6_addr.s6_addr[10] = 0xff;
    s6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
    *len = sizeof *s6;
    return 0;
  }
  if (s->family != AF_INET6) return EINVAL;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
  if (strlen(text) >= sizeof host) return EINVAL;
  strcpy(host, text);
  uint32_t scope = 0;
  char *pct = strchr(host, '%');
  if (pct) {
    *pct = '\0';
    scope = if_nametoindex(pct + 1);
    if (scope == 0) {
      char *end;
      unsigned long v = strtoul(pct + 1, &end, 10);
      if (*end != '\0' || v == 0 || v > UINT32_MAX) return EINVAL;
      scope = (uint32_t)v;
    }
  }
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
  if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) return EINVAL;
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons((uint16_t)port);
  s6->sin6_scope_id = scope;
  *len = sizeof *s6;
  return 0;
}

/* ---- sending -------------------------------------------------------------------------------- */

static void update_poll(sock_t *s);

/* The next send system call, or a pretended EAGAIN (see js_simulate_would_block). */
static ssize_t do_sendto(sock_t *s, const void *data, size_t len, const struct sockaddr_storage *sa, socklen_t salen) {
  if (s->simulated_eagain > 0) {
    s->simulated_eagain--;
    errno = EAGAIN;
    return -1;
  }
  return sendto(s->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)sa, salen);
}

static int do_sendmmsg(sock_t *s, struct mmsghdr *msgs, unsigned int n) {
  if (s->simulated_eagain > 0) {
    s->simulated_eagain--;
    errno = EAGAIN;
    return -1;
  }
  return sendmmsg(s->fd, msgs, n, MSG_DONTWAIT);
}

static int would_block(int err) {
  /* ENOBUFS: the device queue is full; libuv treats it as EAGAIN too. */
  return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

static void enqueue(sock_t *s, const struct sockaddr_storage *sa, socklen_t salen, const void *data, size_t len) {
  if (s->nqueued >= MAX_QUEUED) {
    s->st.dropped++;
    return;
  }
  queued_t *q = malloc(sizeof *q + len);
  if (!q) {
    s->st.dropped++;
    return;
  }
  q->next = NULL;
  q->addr = *sa;
  q->addrlen = salen;
  q->len = len;
  memcpy(q->data, data, len);
  if (s->qtail) s->qtail->next = q;
  else s->qhead = q;
  s->qtail = q;
  s->nqueued++;
}

/*
 * One sendto. A failure other than "would block" is retried once: a UDP socket reports a pending
 * error (an ICMP error on a connected socket) on the next call, whatever that call sends, and the
 * retry then goes through. Returns 1 sent, 0 would block, -1 failed (counted).
 */
static int send_one(sock_t *s, const struct sockaddr_storage *sa, socklen_t salen, const void *data, size_t len) {
  for (int attempt = 0;;) {
    ssize_t r = do_sendto(s, data, len, sa, salen);
    if (r >= 0) {
      s->st.tx++;
      return 1;
    }
    if (errno == EINTR) continue;
    if (would_block(errno)) {
      s->st.eagain++;
      return 0;
    }
    if (++attempt == 2) {
      s->st.send_errors++;
      return -1;
    }
  }
}

static void flush_queue(sock_t *s) {
  while (s->qhead) {
    queued_t *q = s->qhead;
    if (send_one(s, &q->addr, q->addrlen, q->data, q->len) == 0) break;
    s->qhead = q->next;
    if (!s->qhead) s->qtail = NULL;
    s->nqueued--;
    free(q);
  }
  update_poll(s);
}

/* Sends out slots [0, n) (already checked) with as few sendmmsg calls as the kernel allows. */
static uint32_t send_batch(sock_t *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *m = s->out_meta + (size_t)i * OUT_META;
    uint32_t src = (uint32_t)m[1];
    s->siov[i].iov_base = s->out + (size_t)i * s->slot;
    s->siov[i].iov_len = (size_t)m[0];
    struct msghdr *h = &s->smsg[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &s->raddr[src];
    h->msg_namelen = s->rmsg[src].msg_hdr.msg_namelen;
    h->msg_iov = &s->siov[i];
    h->msg_iovlen = 1;
  }
  uint32_t done = 0, sent = 0;
  int retried = 0;
  /* Behind replies already waiting for POLLOUT: the kernel would refuse these too. */
  while (!s->qhead && done < n) {
    int r = do_sendmmsg(s, s->smsg + done, n - done);
    if (r > 0) {
      done += (uint32_t)r;
      sent += (uint32_t)r;
      s->st.tx += r;
      retried = 0;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && would_block(errno)) {
      s->st.eagain++;
      break;
    }
    /* The first remaining message failed on its own (EMSGSIZE, EACCES, EHOSTUNREACH...) or on a
     * pending socket error: retry it once (see send_one), then skip it. */
    if (!retried) {
      retried = 1;
      continue;
    }
    s->st.send_errors++;
    done++;
    retried = 0;
  }
  for (; done < n; done++) {
    struct msghdr *h = &s->smsg[done].msg_hdr;
    enqueue(s, h->msg_name, h->msg_namelen, s->siov[done].iov_base, s->siov[done].iov_len);
  }
  update_poll(s);
  return sent;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void call_js(sock_t *s, uint32_t n) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, self, arg, result;
  if (napi_get_reference_value(env, s->cb, &cb) == napi_ok && napi_get_reference_value(env, s->self, &self) == napi_ok &&
      napi_create_uint32(env, n, &arg) == napi_ok) {
    s->in_batch = n;
    /* napi_make_callback, not napi_call_function: it runs the process.nextTick queue and the
     * microtasks once the callback returns, as Node does after any I/O callback. */
    napi_status st = napi_make_callback(env, s->actx, self, cb, 1, &arg, &result);
    s->in_batch = 0;
    if (st == napi_pending_exception) {
      napi_value ex;
      /* -> process 'uncaughtException', as a throw in a dgram 'message' listener would do */
      if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void read_batches(sock_t *s) {
  for (int round = 0; round < MAX_ROUNDS && !s->closing; round++) {
    for (uint32_t i = 0; i < s->batch; i++) {
      s->riov[i].iov_base = s->in + (size_t)i * s->slot;
      s->riov[i].iov_len = s->slot;
      struct msghdr *h = &s->rmsg[i].msg_hdr;
      h->msg_name = &s->raddr[i];
      h->msg_namelen = sizeof s->raddr[i];
      h->msg_iov = &s->riov[i];
      h->msg_iovlen = 1;
      h->msg_control = NULL;
      h->msg_controllen = 0;
      h->msg_flags = 0;
    }
    int r = recvmmsg(s->fd, s->rmsg, s->batch, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      /* EINTR, or a pending socket error reported (and cleared) by this call: the datagrams
       * behind it are read next round. Anything else is counted; the poll wakes us again. */
      if (errno != EINTR) s->st.recv_errors++;
      continue;
    }
    if (r == 0) return;
    for (int i = 0; i < r; i++) {
      int32_t *m = s->in_meta + (size_t)i * IN_META;
      const struct mmsghdr *h = &s->rmsg[i];
      m[1] = 0;
      if (h->msg_hdr.msg_flags & MSG_TRUNC) {
        m[1] = FLAG_TRUNCATED;
        s->st.truncated++;
      }
      m[0] = (int32_t)(h->msg_len > s->slot ? s->slot : h->msg_len);
      to_meta(&s->raddr[i], m);
    }
    s->st.rx += r;
    s->st.batches++;
    call_js(s, (uint32_t)r);
    if ((uint32_t)r < s->batch) return; /* the queue is empty now */
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = h->data;
  if (s->closing) return;
  if (status < 0) {
    /*
     * libuv stops the poll and reports UV_EBADF when epoll says POLLERR, which for a UDP socket
     * means a pending socket error (an ICMP error on a connected socket). Clear it and watch again;
     * only a socket that cannot even answer getsockopt is given up.
     */
    int err = 0;
    socklen_t len = sizeof err;
    s->st.recv_errors++;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0) {
      s->events = 0;
      update_poll(s);
    }
    return;
  }
  if (events & UV_WRITABLE) flush_queue(s);
  if (events & UV_READABLE) read_batches(s);
}

static void update_poll(sock_t *s) {
  if (s->closing) return;
  int ev = UV_READABLE | (s->qhead ? UV_WRITABLE : 0);
  if (ev == s->events) return;
  if (uv_poll_start(&s->poll, ev, on_poll) == 0) s->events = ev;
  else s->st.recv_errors++;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static void on_env_teardown(void *arg);

/* Frees everything but the poll handle and the struct itself. */
static void release(sock_t *s) {
  if (s->fd >= 0) {
    /* On Linux the fd is released even when close() fails (EINTR): never retry. */
    (void)close(s->fd);
    s->fd = -1;
  }
  while (s->qhead) {
    queued_t *q = s->qhead;
    s->qhead = q->next;
    free(q);
  }
  s->qtail = NULL;
  s->nqueued = 0;
  if (!s->env_gone) {
    if (s->cb) napi_delete_reference(s->env, s->cb);
    if (s->self) napi_delete_reference(s->env, s->self);
    if (s->actx) napi_async_destroy(s->env, s->actx);
    if (s->hooked) napi_remove_env_cleanup_hook(s->env, on_env_teardown, s);
  }
  s->cb = s->self = NULL;
  s->actx = NULL;
  s->hooked = 0;
  if (s->box) s->box->s = NULL;
  s->box = NULL;
  free(s->rmsg);
  free(s->smsg);
  free(s->riov);
  free(s->siov);
  free(s->raddr);
  s->rmsg = s->smsg = NULL;
  s->riov = s->siov = NULL;
  s->raddr = NULL;
}

/* The fd is closed only here, once libuv has let go of the poll handle that watches it. */
static void on_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  release(s);
  free(s);
}

static void start_close(sock_t *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

static void on_env_teardown(void *arg) {
  sock_t *s = arg;
  s->env_gone = 1;
  s->hooked = 0;
  start_close(s);
}

static void finalize_box(napi_env env, void *data, void *hint) {
  box_t *b = data;
  if (b->s) b->s->box = NULL;
  free(b);
}

/* The socket behind `this` of a method call; throws when it is closed. */
static sock_t *this_sock(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  box_t *box = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || !(box = unwrap_box(env, self))) {
    napi_throw_type_error(env, NULL, "udp_batch: not a batch socket");
    return NULL;
  }
  sock_t *s = box->s;
  if (!s || s->closing) {
    napi_throw_error(env, "ERR_SOCKET_DGRAM_NOT_RUNNING", "udp_batch: socket is closed");
    return NULL;
  }
  return s;
}

/* ---- methods -------------------------------------------------------------------------------- */

/* send(n): sends replies [0, n) of the out slab; only during the batch callback. Returns how many
 * the kernel took now (the rest wait for POLLOUT, or were dropped: see stats()). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = this_sock(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t n = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(n): n must be a count");
    return NULL;
  }
  if (n > 0 && s->in_batch == 0) {
    napi_throw_error(env, NULL, "send(n): only during the batch callback (use sendOne later)");
    return NULL;
  }
  if (n > s->batch) {
    napi_throw_range_error(env, NULL, "send(n): n is larger than the batch");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *m = s->out_meta + (size_t)i * OUT_META;
    if (m[0] < 0 || (uint32_t)m[0] > s->slot || m[1] < 0 || (uint32_t)m[1] >= s->in_batch) {
      napi_throw_range_error(env, NULL, "send(n): a reply's length or datagram index is out of range");
      return NULL;
    }
  }
  napi_value r;
  NAPI_OK(napi_create_uint32(env, n ? send_batch(s, n) : 0, &r));
  return r;
}

/* sendOne(data: Uint8Array, address: string, port: number): true if the kernel took it now. */
static napi_value js_send_one(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t *s = this_sock(env, info, &argc, argv);
  if (!s) return NULL;
  bool is_ta = false;
  if (argc < 3 || napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta) {
    napi_throw_type_error(env, NULL, "sendOne(data, address, port): data must be a Uint8Array");
    return NULL;
  }
  napi_typedarray_type type;
  size_t len, offset;
  void *data;
  napi_value ab;
  NAPI_OK(napi_get_typedarray_info(env, argv[0], &type, &len, &data, &ab, &offset));
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "sendOne: data must be a Uint8Array");
    return NULL;
  }
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t tl;
  uint32_t port;
  /* Its full length first: napi_get_value_string_utf8 cuts a longer string to the buffer, and a
   * cut text could parse as another address. */
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &tl) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendOne: address must be a string");
    return NULL;
  }
  if (tl >= sizeof text) {
    napi_throw_range_error(env, NULL, "sendOne: address too long for an IP literal");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[1], text, sizeof text, &tl) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendOne: address must be a string");
    return NULL;
  }
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port > 65535) {
    napi_throw_range_error(env, NULL, "sendOne: port must be 0-65535");
    return NULL;
  }
  struct sockaddr_storage sa;
  socklen_t salen;
  if (parse_destination(s, text, port, &sa, &salen) != 0) {
    napi_throw_type_error(env, NULL, "sendOne: address must be an IP literal of the socket's family");
    return NULL;
  }
  int ok = 0;
  if (s->qhead) enqueue(s, &sa, salen, data, len);
  else if ((ok = send_one(s, &sa, salen, data, len)) == 0) enqueue(s, &sa, salen, data, len);
  update_poll(s);
  napi_value r;
  NAPI_OK(napi_get_boolean(env, ok == 1, &r));
  return r;
}

/* address(i): the source of datagram i of this batch as text, exactly as dgram's rinfo.address. */
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = this_sock(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t i;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &i) != napi_ok || i >= s->in_batch) {
    napi_throw_range_error(env, NULL, "address(i): i must index a datagram of the current batch");
    return NULL;
  }
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  int err = address_text(&s->raddr[i], text, sizeof text);
  if (err) return throw_errno(env, "inet_ntop", err);
  napi_value r;
  NAPI_OK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &r));
  return r;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = this_sock(env, info, &argc, NULL);
  if (!s) return NULL;
  napi_value o, v;
  NAPI_OK(napi_create_object(env, &o));
#define STAT(name, x)                                 \
  NAPI_OK(napi_create_double(env, (double)(x), &v)); \
  NAPI_OK(napi_set_named_property(env, o, name, v));
  STAT("received", s->st.rx)
  STAT("sent", s->st.tx)
  STAT("batches", s->st.batches)
  STAT("truncated", s->st.truncated)
  STAT("recvErrors", s->st.recv_errors)
  STAT("sendErrors", s->st.send_errors)
  STAT("wouldBlock", s->st.eagain)
  STAT("dropped", s->st.dropped)
  STAT("queued", s->nqueued)
#undef STAT
  return o;
}

/*
 * simulateWouldBlock(n): the next n send system calls fail with EAGAIN without being made. For
 * tests only: sends on loopback never block (the kernel hands the datagram over within the call),
 * so the queue and its POLLOUT flush cannot be reached there otherwise.
 */
static napi_value js_simulate_would_block(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = this_sock(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t n;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "simulateWouldBlock(n): n must be a count");
    return NULL;
  }
  s->simulated_eagain = n;
  return NULL;
}

/* close(): stops reading at once; the fd is closed when libuv has released the poll handle.
 * Idempotent; the other methods throw afterwards. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value self;
  box_t *box;
  NAPI_OK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  if (!(box = unwrap_box(env, self))) {
    napi_throw_type_error(env, NULL, "udp_batch: not a batch socket");
    return NULL;
  }
  if (box->s) start_close(box->s);
  return NULL;
}

/* ---- open ----------------------------------------------------------------------------------- */

static int get_u32_option(napi_env env, napi_value o, const char *key, uint32_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, o, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static napi_value make_array(napi_env env, napi_typedarray_type type, size_t count, size_t elem, void **data) {
  napi_value ab, ta;
  if (napi_create_arraybuffer(env, count * elem, data, &ab) != napi_ok) return NULL;
  if (napi_create_typedarray(env, type, count, ab, 0, &ta) != napi_ok) return NULL;
  return ta;
}

static napi_value set_u32(napi_env env, napi_value o, const char *key, uint32_t value) {
  napi_value v;
  if (napi_create_uint32(env, value, &v) != napi_ok || napi_set_named_property(env, o, key, v) != napi_ok) return NULL;
  return v;
}

/*
 * open(fd, { batch = 64, slot = 4096 }, onBatch(n)): starts reading a bound UDP socket (a dup of
 * fd) in batches. Returns the batch socket: { in, inMeta, out, outMeta, batch, slot, send, sendOne,
 * address, stats, close }.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined, t2 = napi_undefined;
  if (argc == 3) {
    NAPI_OK(napi_typeof(env, argv[0], &t0));
    NAPI_OK(napi_typeof(env, argv[1], &t1));
    NAPI_OK(napi_typeof(env, argv[2], &t2));
  }
  if (t0 != napi_number || t1 != napi_object || t2 != napi_function) {
    napi_throw_type_error(env, NULL, "open(fd, options, onBatch)");
    return NULL;
  }
  int32_t owner_fd;
  uint32_t batch = 64, slot = 4096;
  NAPI_OK(napi_get_value_int32(env, argv[0], &owner_fd));
  if (get_u32_option(env, argv[1], "batch", &batch) != 0 || get_u32_option(env, argv[1], "slot", &slot) != 0) {
    napi_throw_type_error(env, NULL, "open: batch and slot must be counts");
    return NULL;
  }
  if (owner_fd < 0 || batch < 1 || batch > 1024 || slot < 512 || slot > 65536) {
    napi_throw_range_error(env, NULL, "open: fd >= 0, batch 1-1024, slot 512-65536");
    return NULL;
  }

  /* Our own fd for the same socket: libuv watches each fd once, and the owner keeps its own. */
  int fd = fcntl(owner_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "dup", errno);
  int type = 0;
  socklen_t tl = sizeof type;
  struct sockaddr_storage local;
  socklen_t ll = sizeof local;
  int fl;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
      (fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "open", err);
  }
  if (type != SOCK_DGRAM || (local.ss_family != AF_INET && local.ss_family != AF_INET6)) {
    close(fd);
    napi_throw_type_error(env, NULL, "open: fd is not an IPv4 or IPv6 UDP socket");
    return NULL;
  }

  sock_t *s = calloc(1, sizeof *s);
  box_t *box = calloc(1, sizeof *box);
  if (s) {
    s->fd = fd;
    s->rmsg = calloc(batch, sizeof *s->rmsg);
    s->smsg = calloc(batch, sizeof *s->smsg);
    s->riov = calloc(batch, sizeof *s->riov);
    s->siov = calloc(batch, sizeof *s->siov);
    s->raddr = calloc(batch, sizeof *s->raddr);
  }
  if (!s || !box || !s->rmsg || !s->smsg || !s->riov || !s->siov || !s->raddr) {
    free(box);
    if (s) release(s);
    else close(fd);
    free(s);
    return throw_errno(env, "open", ENOMEM);
  }
  s->env = env;
  s->family = local.ss_family;
  s->batch = batch;
  s->slot = slot;
  s->box = box;
  box->s = s;

  /* From here on a failure must undo through release(); the box belongs to the JS object once
   * wrapped (its finalizer frees it). */
  napi_value self, in, out, in_meta, out_meta;
  int wrapped = 0;
  napi_property_descriptor methods[] = {
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendOne", NULL, js_send_one, NULL, NULL, NULL, napi_default, NULL},
      {"address", NULL, js_address, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"simulateWouldBlock", NULL, js_simulate_would_block, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value rname;
  uv_loop_t *loop;
  if (napi_create_object(env, &self) != napi_ok) goto fail;
  if (napi_wrap(env, self, box, finalize_box, NULL, NULL) != napi_ok) goto fail;
  wrapped = 1;
  if (napi_type_tag_object(env, self, &BATCH_SOCKET_TAG) != napi_ok) goto fail;
  if (!(in = make_array(env, napi_uint8_array, (size_t)batch * slot, 1, (void **)&s->in))) goto fail;
  if (!(out = make_array(env, napi_uint8_array, (size_t)batch * slot, 1, (void **)&s->out))) goto fail;
  if (!(in_meta = make_array(env, napi_int32_array, (size_t)batch * IN_META, 4, (void **)&s->in_meta))) goto fail;
  if (!(out_meta = make_array(env, napi_int32_array, (size_t)batch * OUT_META, 4, (void **)&s->out_meta))) goto fail;
  /* The slabs are V8 ArrayBuffers: they stay alive (and in place) as long as `self` refers to them,
   * and `self` is kept by a strong reference until the poll is closed. */
  if (napi_set_named_property(env, self, "in", in) != napi_ok || napi_set_named_property(env, self, "out", out) != napi_ok ||
      napi_set_named_property(env, self, "inMeta", in_meta) != napi_ok ||
      napi_set_named_property(env, self, "outMeta", out_meta) != napi_ok || !set_u32(env, self, "batch", batch) ||
      !set_u32(env, self, "slot", slot) || napi_define_properties(env, self, sizeof methods / sizeof methods[0], methods) != napi_ok)
    goto fail;
  if (napi_create_reference(env, argv[2], 1, &s->cb) != napi_ok) goto fail;
  if (napi_create_reference(env, self, 1, &s->self) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, "UDP_BATCH", NAPI_AUTO_LENGTH, &rname) != napi_ok ||
      napi_async_init(env, NULL, rname, &s->actx) != napi_ok)
    goto fail;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) goto fail;
  int err = uv_poll_init_socket(loop, &s->poll, fd);
  if (err != 0) {
    napi_throw_error(env, uv_err_name(err), uv_strerror(err));
    goto fail;
  }
  s->poll.data = s;
  if (napi_add_env_cleanup_hook(env, on_env_teardown, s) == napi_ok) s->hooked = 1;
  err = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (err != 0) {
    napi_throw_error(env, uv_err_name(err), uv_strerror(err));
    start_close(s); /* the handle is initialised: release() runs in its close callback */
    return NULL;
  }
  s->events = UV_READABLE;
  return self;

fail : {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, "udp_batch: open failed");
  if (!wrapped) free(box);
  else box->s = NULL;
  s->box = NULL;
  release(s);
  free(s);
  return NULL;
}
}

/* native/malloc_trim.c and native/page_out.c, built into the same addon. */
int register_malloc_trim(napi_env env, napi_value exports);
int register_page_out(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "open", fn) != napi_ok || !set_u32(env, exports, "abi", ABI_VERSION) ||
      !set_u32(env, exports, "inMeta", IN_META) || !set_u32(env, exports, "outMeta", OUT_META) ||
      !register_malloc_trim(env, exports) || !register_page_out(env, exports))
    return NULL;
  return exports;
}
