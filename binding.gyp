{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["native/udp_batch.c", "native/malloc_trim.c", "native/page_out.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
