#include <napi.h>

#include "copy-runs.h"
#include "fault-server-binding.h"
#include "file-ranges.h"
#include "netns.h"
#include "pagemap-scan.h"
#include "run-command.h"
#include "scm-rights.h"
#include "spawn-process.h"
#include "tcp-repair.h"
#include "uffd.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInNetns", Napi::Function::New(env, amber::SocketInNetns));
  amber::InitUffd(env, exports);
  amber::InitScmRights(env, exports);
  amber::InitPagemapScan(env, exports);
  amber::InitFileRanges(env, exports);
  amber::InitCopyRuns(env, exports);
  amber::InitTcpRepair(env, exports);
  amber::InitFaultServer(env, exports);
  amber::InitRunCommand(env, exports);
  amber::InitSpawnProcess(env, exports);
  return exports;
}

NODE_API_MODULE(amber_native, Init)
