{
  "targets": [
    {
      "target_name": "basalt_native",
      "sources": ["addon.c", "crc32c.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
