/*
 * pageOut(start, length): madvise(MADV_PAGEOUT) on [start, start + length) of this process.
 *
 * Why: Node reads ~34 MB of its own binary while it starts (the V8 start-up snapshot, bootstrap
 * code, built-in modules' code) and those clean file pages stay mapped, and counted in RSS, for the
 * life of the process, though a running server never touches most of them again. A 10k-object
 * server settled at 65.7 MB RSS, 40 MB of it the node binary's pages; after one MADV_PAGEOUT of the
 * binary's read-only mappings it was 35.8 MB, and under 57k qps the pages the query path uses came
 * back to 19 MB of binary (62.7 MB in all, against 84.8 without it). src/server/page-out.ts decides
 * which ranges and when (once, when the server is first ready).
 *
 * Safe by construction: MADV_PAGEOUT never changes what memory holds (file pages are re-read from
 * the file on the next touch, anonymous ones are swapped or kept; the kernel skips pages another
 * process maps, and file pages of a file this process neither owns nor could open for writing). Linux ≥ 5.4; returns errno (EINVAL on older
 * kernels, ENOMEM when part of the range is unmapped: the mapped part is still advised), 0 when done.
 */
#include <errno.h>
#include <node_api.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/mman.h>
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#endif

static napi_value js_page_out(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t start = 0, length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_int64(env, argv[0], &start) != napi_ok ||
      napi_get_value_int64(env, argv[1], &length) != napi_ok || start <= 0 || length <= 0) {
    napi_throw_type_error(env, NULL, "pageOut(start, length): two positive integers expected");
    return NULL;
  }
  int err = ENOSYS;
#ifdef __linux__
  err = madvise((void *)(uintptr_t)start, (size_t)length, MADV_PAGEOUT) == 0 ? 0 : errno;
#endif
  napi_value out;
  if (napi_create_int32(env, err, &out) != napi_ok) return NULL;
  return out;
}

/* Adds pageOut to the addon's exports; 0 on failure. */
int register_page_out(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "pageOut", NAPI_AUTO_LENGTH, js_page_out, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, "pageOut", fn) == napi_ok;
}
