/*
 * malloc_trim: gives the memory glibc's malloc holds in its free lists back to the kernel.
 *
 * Why: Node's and V8's own C++ allocations (compiler zones, the list responses' buffers, parser
 * state) are freed into glibc's arenas, which keep the pages: a 10k-object server that had settled
 * at 69.4 MB RSS (V8's heap already shrunk) dropped to 65.5 MB after one malloc_trim(0), a 200k one
 * by 5-10 MB. glibc only trims the top of the main heap by itself; malloc_trim(0) also releases
 * whole free pages inside every arena (MADV_DONTNEED). Compiled into the same addon as the batched
 * UDP code (one native build step and file to ship); src/server/malloc-trim.ts calls it.
 */
#include <node_api.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* mallocTrim(): true when memory was released, false when none was (or not glibc). */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#ifdef __GLIBC__
  released = malloc_trim(0);
#endif
  napi_value out;
  if (napi_get_boolean(env, released != 0, &out) != napi_ok) return NULL;
  return out;
}

/* Adds mallocTrim to the addon's exports; 0 on failure. */
int register_malloc_trim(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, js_malloc_trim, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, "mallocTrim", fn) == napi_ok;
}
