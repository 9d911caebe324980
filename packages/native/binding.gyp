{
  "targets": [
    {
      "target_name": "amber_native",
      "sources": [
        "csrc/addon.cc",
        "csrc/accept-with-fds.cc",
        "csrc/args.cc",
        "csrc/block-table.cc",
        "csrc/copy-runs.cc",
        "csrc/errors.cc",
        "csrc/fault-server.cc",
        "csrc/fault-server-background.cc",
        "csrc/fault-server-tracking.cc",
        "csrc/fault-server-binding.cc",
        "csrc/file-ranges.cc",
        "csrc/netns.cc",
        "csrc/pagemap-scan.cc",
        "csrc/run-command.cc",
        "csrc/scm-rights.cc",
        "csrc/spawn-process.cc",
        "csrc/tcp-repair.cc",
        "csrc/uffd.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "amber_guest",
      "sources": [
        "csrc/guest/clock.cc",
        "csrc/guest/control.cc",
        "csrc/guest/dir-entries.cc",
        "csrc/guest/guest-addon.cc",
        "csrc/guest/inotify.cc",
        "csrc/guest/pty.cc",
        "csrc/guest/spawn.cc",
        "csrc/guest/xattr.cc",
        "csrc/args.cc",
        "csrc/errors.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lutil"]
    },
    {
      "target_name": "qemu-uffd-shim",
      "type": "shared_library",
      "product_prefix": "",
      "product_extension": "so",
      "sources": ["csrc/shim/qemu-uffd-shim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-fPIC", "-fvisibility=default"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-pthread"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "uffd-helper",
      "type": "executable",
      "sources": ["csrc/test-helper/uffd-helper.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-pthread"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-pthread"]
    }
  ]
}
